module github.com/lcd-ffi/libcontainerd-ffi/go

go 1.21
