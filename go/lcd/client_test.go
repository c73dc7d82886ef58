package lcd

import (
	"context"
	"fmt"
	"sync"
	"testing"
)

func TestConcurrentLifecyclesFromGoroutines(t *testing.T) {
	ctx := context.Background()
	c := connect(t, "concurrent")
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			id := fmt.Sprintf("g%d", i)
			ctr, err := c.CreateContainer(ctx, id, ContainerConfig{SpecJSON: spec(t, id, []string{"true"}, false), Runtime: "io.containerd.runc.v2"})
			if err != nil {
				errs <- err
				return
			}
			defer ctr.Close()
			// Half create the task and then start it, half prepare it and start it in one call.
			var task *Task
			if i%2 == 0 {
				task, err = ctr.NewTask(ctx, false)
			} else {
				task, err = ctr.PrepareTask(false)
			}
			if err != nil {
				errs <- err
				return
			}
			defer task.Close()
			go readAll(task.Stdio().Stdout)
			go readAll(task.Stdio().Stderr)
			if err := task.Start(ctx); err != nil {
				errs <- err
				return
			}
			if _, err := task.Wait(ctx); err != nil {
				errs <- err
				return
			}
			if _, err := task.Delete(ctx); err != nil {
				errs <- err
				return
			}
			if err := ctr.Delete(ctx); err != nil {
				errs <- err
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
