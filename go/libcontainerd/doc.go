// Package libcontainerd implements moby v24.0.9's libcontainerd/types.Client on top of the
// libcontainerd-ffi library, as a drop-in for moby's libcontainerd/remote. The logic is in
// package adapter, shared with the other moby versions; client.go (generated from
// go/moby28's) and shape.go only convert to v24's types (containerd 1.6's client and cio).
package libcontainerd

// wrapNotFound: v24's remote client passes containerd's errors through its wrapError.
const wrapNotFound = true

// serverText: v24's containerd client (containerd 1.6) appends the class to a failure's text.
const serverText = false
