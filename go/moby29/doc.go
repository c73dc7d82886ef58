// Package lcdffi implements the libcontainerd/types.Client of moby v29 (github.com/moby/moby/v2:
// Container.NewTask and Task.Start, containerd 2's client and cio types, containerd/errdefs
// v1.0) on top of the libcontainerd-ffi library. moby v29's libcontainerd packages are
// internal, so this package is compiled inside moby's tree, at
// daemon/internal/libcontainerd/lcdffi (typecheck.sh shows how). The logic is in package
// adapter, shared with the other moby versions; client.go, generated from go/moby28's, only
// converts types.
package lcdffi

// wrapNotFound: v29's remote client dropped wrapError and passes containerd's errors on as
// they are.
const wrapNotFound = false

// serverText: v29's containerd client (containerd 2) presents a failure as the server's own text.
const serverText = true
