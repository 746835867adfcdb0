// A tiny HTTP server and client for the cluster's tests (standard library only).
module switchboard.local/cluster/testserver

go 1.25.0
