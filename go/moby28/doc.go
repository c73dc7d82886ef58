// Package moby28 implements the libcontainerd/types.Client of moby v28
// (github.com/docker/docker v28.5.2: Container.NewTask and Task.Start, containerd 2's client
// and cio types, containerd/errdefs v1.0) on top of the libcontainerd-ffi library. The logic
// is in package adapter, shared with the other moby versions; client.go only converts types.
// It is the source of go/moby27/client.go and go/moby29/client.go (generate.sh).
package moby28

// wrapNotFound: v28's remote client passes containerd's errors through its wrapError.
const wrapNotFound = true

// serverText: v28's containerd client (containerd 2) presents a failure as the server's own text.
const serverText = true
