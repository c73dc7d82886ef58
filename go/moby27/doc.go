// Package moby27 implements the libcontainerd/types.Client of moby v25 to v27.5
// (github.com/docker/docker v27.5.x: Container.NewTask and Task.Start, containerd 1.7's client
// and cio types, containerd/errdefs v0.3) on top of the libcontainerd-ffi library. The logic
// is in package adapter, shared with the other moby versions; client.go, generated from
// go/moby28's, only converts types.
package moby27

// wrapNotFound: v27's remote client passes containerd's errors through its wrapError.
const wrapNotFound = true

// serverText: v27's containerd client (containerd 1.7) presents a failure with the class suffix appended.
const serverText = false
