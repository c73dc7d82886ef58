// Package lcdffi builds only inside moby v29's tree (typecheck.sh copies its Go files there).
// This file keeps the directory out of the core module, whose `go vet ./...` and
// `go test ./...` could not build it.
module github.com/lcd-ffi/libcontainerd-ffi/go/moby29

go 1.26
