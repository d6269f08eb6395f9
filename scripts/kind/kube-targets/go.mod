module sre-platform.dev/kind/kube-targets

go 1.22
