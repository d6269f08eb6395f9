module sre-platform.dev/kind/incluster

go 1.22
