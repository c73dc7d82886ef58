package lcd

/*
#include <stdlib.h>
#include "libcontainerd_ffi.h"
*/
import "C"

import "sort"

// newCConfig fills a library container configuration (lcd_container_config) from cfg, one
// setter per field: each checks its input, so a bad one fails here with the library's
// InvalidArgument and the configuration is freed. Labels and extensions go in key order. The
// caller frees the result with C.lcd_container_config_free.
func newCConfig(id string, cfg *ContainerConfig) (*C.lcd_container_config, error) {
	config := C.lcd_container_config_new()
	var err error
	set := func(setter func(cerr **C.lcd_error) uint32) {
		if err == nil {
			var cerr *C.lcd_error
			err = check(setter(&cerr), cerr)
		}
	}
	set(func(cerr **C.lcd_error) uint32 {
		p, l := stringArg(id)
		return C.lcd_container_config_set_id(config, p, l, cerr)
	})
	set(func(cerr **C.lcd_error) uint32 {
		p, l := bytesArg(cfg.SpecJSON)
		return C.lcd_container_config_set_spec_json(config, p, l, cerr)
	})
	set(func(cerr **C.lcd_error) uint32 {
		p, l := stringArg(cfg.Runtime)
		return C.lcd_container_config_set_runtime(config, p, l, cerr)
	})
	if cfg.RuntimeOptionsTypeURL != "" || len(cfg.RuntimeOptions) > 0 {
		set(func(cerr **C.lcd_error) uint32 {
			tp, tl := stringArg(cfg.RuntimeOptionsTypeURL)
			op, ol := bytesArg(cfg.RuntimeOptions)
			return C.lcd_container_config_set_runtime_options(config, tp, tl, op, ol, cerr)
		})
	}
	for _, key := range sortedKeys(cfg.Labels) {
		value := cfg.Labels[key]
		set(func(cerr **C.lcd_error) uint32 {
			kp, kl := stringArg(key)
			vp, vl := stringArg(value)
			return C.lcd_container_config_set_label(config, kp, kl, vp, vl, cerr)
		})
	}
	for _, field := range []struct {
		value  string
		setter func(*C.lcd_container_config, *C.uint8_t, C.size_t, **C.lcd_error) uint32
	}{
		{cfg.Image, func(c *C.lcd_container_config, p *C.uint8_t, l C.size_t, cerr **C.lcd_error) uint32 {
			return C.lcd_container_config_set_image(c, p, l, cerr)
		}},
		{cfg.Snapshotter, func(c *C.lcd_container_config, p *C.uint8_t, l C.size_t, cerr **C.lcd_error) uint32 {
			return C.lcd_container_config_set_snapshotter(c, p, l, cerr)
		}},
		{cfg.SnapshotKey, func(c *C.lcd_container_config, p *C.uint8_t, l C.size_t, cerr **C.lcd_error) uint32 {
			return C.lcd_container_config_set_snapshot_key(c, p, l, cerr)
		}},
	} {
		if field.value != "" {
			set(func(cerr **C.lcd_error) uint32 {
				p, l := stringArg(field.value)
				return field.setter(config, p, l, cerr)
			})
		}
	}
	for _, name := range sortedKeys(cfg.Extensions) {
		ext := cfg.Extensions[name]
		set(func(cerr **C.lcd_error) uint32 {
			np, nl := stringArg(name)
			tp, tl := stringArg(ext.TypeURL)
			vp, vl := bytesArg(ext.Value)
			return C.lcd_container_config_set_extension(config, np, nl, tp, tl, vp, vl, cerr)
		})
	}
	if err != nil {
		C.lcd_container_config_free(config)
		return nil, err
	}
	return config, nil
}

// sortedKeys gives a map's keys in order (the setters then run in the same order every time).
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
