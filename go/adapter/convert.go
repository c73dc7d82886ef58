package adapter

import (
	"fmt"

	"github.com/containerd/typeurl/v2"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/lcd-ffi/libcontainerd-ffi/go/lcd"
)

// SocketOfConn is the socket path of a containerd Go client's connection (its Conn(): a
// *grpc.ClientConn, typed any from containerd 2.0 on), whose dialer targets unix://<path>.
func (e *Errors) SocketOfConn(conn interface{}) (string, error) {
	c, ok := conn.(interface{ Target() string })
	if !ok {
		return "", e.Moby.InvalidParameter(fmt.Errorf("libcontainerd-ffi: the containerd client's connection (%T) names no target", conn))
	}
	return SocketOf(c.Target()), nil
}

// EncodeAny is containerd/typeurl/v2's Any of v (containerd 1.7 and 2.x, moby v25 on), as
// Client.EncodeRuntimeOptions takes it.
func EncodeAny(v interface{}) (typeURL string, value []byte, err error) {
	a, err := typeurl.MarshalAny(v)
	if err != nil {
		return "", nil, err
	}
	return a.GetTypeUrl(), a.GetValue(), nil
}

// RecordExtensions are a containerd 1.7/2.x record's extensions as the library takes them.
func RecordExtensions(exts map[string]typeurl.Any) map[string]lcd.Any {
	if len(exts) == 0 {
		return nil
	}
	out := make(map[string]lcd.Any, len(exts))
	for name, ext := range exts {
		out[name] = lcd.Any{TypeURL: ext.GetTypeUrl(), Value: ext.GetValue()}
	}
	return out
}

// InfoAny is a process's info payload as containerd 1.7/2.x's ProcessInfo carries it (nil
// when containerd sent none).
func InfoAny(p lcd.ProcessInfo) *anypb.Any {
	if p.InfoTypeURL == "" {
		return nil
	}
	return &anypb.Any{TypeUrl: p.InfoTypeURL, Value: p.Info}
}
