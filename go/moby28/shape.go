package moby28

import (
	"context"

	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/containers"
	libcontainerdtypes "github.com/docker/docker/libcontainerd/types"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/lcd-ffi/libcontainerd-ffi/go/adapter"
	"github.com/lcd-ffi/libcontainerd-ffi/go/lcd"
)

// What moby v25 on have that v24 has not (Container.NewTask instead of Start), and what
// containerd 1.7 and 2 type alike (typeurl/v2, protobuf Any); go/libcontainerd has v24's.

// NewContainer applies the caller's containerd options to a local record and passes what they
// set (labels, image, snapshotter, snapshot key, extensions) on.
func (c *client) NewContainer(ctx context.Context, id string, spec *specs.Spec, shim string, runtimeOptions interface{}, opts ...containerd.NewContainerOpts) (libcontainerdtypes.Container, error) {
	record := containers.Container{ID: id, Labels: map[string]string{}}
	for _, opt := range opts {
		if err := c.ApplyOption(func() error { return opt(ctx, nil, &record) }); err != nil {
			return nil, err
		}
	}
	runtimeAny, err := c.EncodeRuntimeOptions(runtimeOptions, adapter.EncodeAny)
	if err != nil {
		return nil, err
	}
	return containerOf(c.Client.NewContainer(ctx, id, spec, adapter.Options{Shim: shim, RuntimeOptions: runtimeAny, Record: lcd.ContainerConfig{
		Labels: record.Labels, Image: record.Image, Snapshotter: record.Snapshotter, SnapshotKey: record.SnapshotKey,
		Extensions: adapter.RecordExtensions(record.Extensions),
	}}))
}

func (c container) NewTask(ctx context.Context, checkpointDir string, withStdin bool, attachStdio libcontainerdtypes.StdioCallback) (libcontainerdtypes.Task, error) {
	return taskOf(c.Container.NewTask(ctx, checkpointDir, withStdin, attachWith(attachStdio)))
}

func (t task) Pids(ctx context.Context) ([]containerd.ProcessInfo, error) {
	pids, err := t.Task.Pids(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]containerd.ProcessInfo, len(pids))
	for i, p := range pids {
		out[i] = containerd.ProcessInfo{Pid: p.Pid, Info: adapter.InfoAny(p)}
	}
	return out, nil
}
