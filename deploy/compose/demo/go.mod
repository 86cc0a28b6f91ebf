module hearth.example/demo

go 1.19
