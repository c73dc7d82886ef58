package lcd

/*
#include <stdlib.h>
#include "libcontainerd_ffi.h"
*/
import "C"

import (
	"context"
	"fmt"
)

// ContainerConfig is what a new container is made from.
type ContainerConfig struct {
	// SpecJSON is the runtime-spec document, sent to containerd as it is.
	SpecJSON []byte
	// Runtime is the shim name, e.g. io.containerd.runc.v2.
	Runtime string
	// RuntimeOptionsTypeURL and RuntimeOptions are the runtime options as a protobuf Any
	// (for runc: containerd.runc.v1.Options); both empty for none.
	RuntimeOptionsTypeURL string
	RuntimeOptions        []byte
	Labels                map[string]string
	// Record fields that containerd container options set.
	Image, Snapshotter, SnapshotKey string
	Extensions                      map[string]Any
}

// Any is a protobuf Any: a type URL and the encoded message.
type Any struct {
	TypeURL string
	Value   []byte
}

// Container is a containerd container with the metadata later calls need.
type Container struct {
	h         handle[*C.lcd_container]
	id        string
	bundleDir string
	namespace string
}

func newContainer(p *C.lcd_container, namespace string) *Container {
	c := &Container{id: C.GoString(C.lcd_container_id(p)), bundleDir: C.GoString(C.lcd_container_bundle_dir(p)), namespace: namespace}
	c.h.init(p, "Container", func(p *C.lcd_container) { C.lcd_container_free(p) })
	track(c, (*Container).Close)
	return c
}

// CreateContainer makes the bundle directory and the containerd record (one RPC).
func (c *Client) CreateContainer(ctx context.Context, id string, cfg ContainerConfig) (*Container, error) {
	config, err := newCConfig(id, &cfg)
	if err != nil {
		return nil, err
	}
	// The create copies the configuration before it returns; the pending call does not need it.
	defer C.lcd_container_config_free(config)
	var p *C.lcd_container
	err = c.h.asyncCall(ctx, func(cp *C.lcd_client, cancel *C.lcd_cancel, out **C.lcd_pending, cerr **C.lcd_error) uint32 {
		return C.lcd_container_create_async(cp, config, cancel, out, cerr)
	}, func(pending *C.lcd_pending, cerr **C.lcd_error) uint32 {
		return C.lcd_pending_finish_container(pending, &p, cerr)
	})
	if err != nil {
		return nil, err
	}
	return newContainer(p, c.namespace), nil
}

// LoadContainer loads an existing container by id (one RPC).
func (c *Client) LoadContainer(ctx context.Context, id string) (*Container, error) {
	var p *C.lcd_container
	err := c.h.asyncCall(ctx, func(cp *C.lcd_client, cancel *C.lcd_cancel, out **C.lcd_pending, cerr **C.lcd_error) uint32 {
		ip, il := stringArg(id)
		return C.lcd_container_load_async(cp, ip, il, cancel, out, cerr)
	}, func(pending *C.lcd_pending, cerr **C.lcd_error) uint32 {
		return C.lcd_pending_finish_container(pending, &p, cerr)
	})
	if err != nil {
		return nil, err
	}
	return newContainer(p, c.namespace), nil
}

// ID is the container id.
func (c *Container) ID() string { return c.id }

// BundleDir is the container's bundle directory.
func (c *Container) BundleDir() string { return c.bundleDir }

// Delete deletes the record and the bundle directory; refused while a task exists. It then
// frees the handle: later calls fail with NotFound; tasks made from it stay usable.
func (c *Container) Delete(ctx context.Context) error {
	err := c.h.asyncCall(ctx, func(p *C.lcd_container, cancel *C.lcd_cancel, out **C.lcd_pending, cerr **C.lcd_error) uint32 {
		return C.lcd_container_delete_async(p, cancel, out, cerr)
	}, func(pending *C.lcd_pending, cerr **C.lcd_error) uint32 {
		return C.lcd_pending_finish(pending, cerr)
	})
	if err == nil {
		// containerd's words for a container it does not have.
		text := fmt.Sprintf("container %q in namespace %q: not found", c.id, c.namespace)
		c.h.retire(retired{notFound: text, serverText: text}, nil)
	}
	return err
}

// Close frees the handle; tasks made from it stay usable. Idempotent.
func (c *Container) Close() error {
	c.h.close()
	return nil
}
