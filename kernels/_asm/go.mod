module hesscope/kernels/_asm

go 1.26.0
