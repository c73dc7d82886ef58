module libcontainerd-ffi/tests/spec_decoder

go 1.21

require github.com/opencontainers/runtime-spec v1.1.0-rc.2
