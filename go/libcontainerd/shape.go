package libcontainerd

import (
	"context"

	"github.com/containerd/containerd"
	"github.com/containerd/containerd/containers"
	"github.com/containerd/typeurl"
	libcontainerdtypes "github.com/docker/docker/libcontainerd/types"
	prototypes "github.com/gogo/protobuf/types"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/lcd-ffi/libcontainerd-ffi/go/adapter"
	"github.com/lcd-ffi/libcontainerd-ffi/go/lcd"
)

// What v24 has that later versions have not: Container.Start (create and start in one call),
// and containerd 1.6's gogo protobuf types (typeurl v1, gogo Any).

// NewContainer applies the caller's containerd options to a local record and passes what they
// set (labels, image, snapshotter, snapshot key, extensions) on; containerd 1.6 has no sandbox.
func (c *client) NewContainer(ctx context.Context, id string, spec *specs.Spec, shim string, runtimeOptions interface{}, opts ...containerd.NewContainerOpts) (libcontainerdtypes.Container, error) {
	record := containers.Container{ID: id, Labels: map[string]string{}}
	for _, opt := range opts {
		if err := c.ApplyOption(func() error { return opt(ctx, nil, &record) }); err != nil {
			return nil, err
		}
	}
	runtimeAny, err := c.EncodeRuntimeOptions(runtimeOptions, func(v interface{}) (string, []byte, error) {
		a, err := typeurl.MarshalAny(v)
		if err != nil {
			return "", nil, err
		}
		return a.TypeUrl, a.Value, nil
	})
	if err != nil {
		return nil, err
	}
	fields := lcd.ContainerConfig{Labels: record.Labels, Image: record.Image, Snapshotter: record.Snapshotter, SnapshotKey: record.SnapshotKey}
	if len(record.Extensions) > 0 {
		fields.Extensions = make(map[string]lcd.Any, len(record.Extensions))
		for name, ext := range record.Extensions {
			fields.Extensions[name] = lcd.Any{TypeURL: ext.GetTypeUrl(), Value: ext.GetValue()}
		}
	}
	return containerOf(c.Client.NewContainer(ctx, id, spec, adapter.Options{Shim: shim, RuntimeOptions: runtimeAny, Record: fields}))
}

func (c container) Start(ctx context.Context, checkpointDir string, withStdin bool, attachStdio libcontainerdtypes.StdioCallback) (libcontainerdtypes.Task, error) {
	return taskOf(c.Container.StartTask(ctx, checkpointDir, withStdin, attachWith(attachStdio)))
}

func (t task) Pids(ctx context.Context) ([]containerd.ProcessInfo, error) {
	pids, err := t.Task.Pids(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]containerd.ProcessInfo, len(pids))
	for i, p := range pids {
		out[i].Pid = p.Pid
		if p.InfoTypeURL != "" {
			out[i].Info = &prototypes.Any{TypeUrl: p.InfoTypeURL, Value: p.Info}
		}
	}
	return out, nil
}
