module sre-platform.dev/kind/kindnet

go 1.22
