module sre-platform.dev/node/pause

go 1.22
