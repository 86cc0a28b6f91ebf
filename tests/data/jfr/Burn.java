import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.locks.LockSupport;

// A tiny workload for a JFR test fixture: two CPU-bound methods with a 3:1
// split, an allocating loop, a contended monitor and a parking thread.
public class Burn {
    static volatile long sink;
    static final Object LOCK = new Object();

    static long spinA(long n) { long x = 0; for (long i = 0; i < n; i++) x += i * 31 ^ (x >>> 3); return x; }
    static long spinB(long n) { long x = 1; for (long i = 0; i < n; i++) x = x * 17 + i; return x; }
    static void work() { sink += spinA(3_000_000); sink += spinB(1_000_000); }
    static List<byte[]> alloc(int n) { List<byte[]> l = new ArrayList<>(); for (int i = 0; i < n; i++) l.add(new byte[1024 + i % 4096]); return l; }

    public static void main(String[] args) throws Exception {
        long until = System.currentTimeMillis() + Long.parseLong(args[0]);
        Thread locker = new Thread(() -> {
            while (System.currentTimeMillis() < until) synchronized (LOCK) { sink += spinB(200_000); }
        }, "locker");
        Thread parker = new Thread(() -> {
            while (System.currentTimeMillis() < until) LockSupport.parkNanos(2_000_000);
        }, "parker");
        locker.start(); parker.start();
        while (System.currentTimeMillis() < until) {
            work();
            sink += alloc(200).size();
            synchronized (LOCK) { sink++; }
        }
        locker.join(); parker.join();
    }
}
