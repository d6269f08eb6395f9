module sre-platform.dev/kind/kube-targets

go 1.22

require sre-platform.dev/kind/incluster v0.0.0

// The in-cluster API client kindnet and kube-targets share (scripts/kind/incluster).
replace sre-platform.dev/kind/incluster => ../incluster
