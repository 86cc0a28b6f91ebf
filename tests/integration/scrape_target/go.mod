module hearth.test/scrapetarget

go 1.19
