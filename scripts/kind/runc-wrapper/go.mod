module sre-platform.dev/kind/runc-wrapper

go 1.22
