package train

import (
	"fmt"

	"github.com/nvaego/nvae/pkg/tb"
)

// eventLog is what the loop writes TensorBoard events through.
type eventLog interface {
	Scalar(tag string, value float64, step int64) error
	Image(tag string, png []byte, height, width, channels int, step int64) error
	Flush() error
	Close() error
}

// newEventLog opens the event file of a run (tests inject write faults).
var newEventLog = func(dir string) (eventLog, error) { return tb.NewWriter(dir) }

// events records the first write error of an eventLog in its runner
// instead of dropping it; the loop then ends the run (checkWrites).
type events struct {
	w eventLog
	r *runner
}

func (e *events) Scalar(tag string, value float64, step int64) {
	if e == nil { // ranks other than 0 write no events
		return
	}
	e.r.failWrite(e.w.Scalar(tag, value, step))
}

func (e *events) Image(tag string, png []byte, height, width, channels int, step int64) {
	if e == nil { // ranks other than 0 write no events
		return
	}
	e.r.failWrite(e.w.Image(tag, png, height, width, channels, step))
}

func (e *events) Flush() {
	if e == nil {
		return
	}
	e.r.failWrite(e.w.Flush())
}

func (e *events) Close() {
	if e == nil {
		return
	}
	e.r.failWrite(e.w.Close())
}

// failWrite keeps the first write error of log.txt or the event file.
func (r *runner) failWrite(err error) {
	if err != nil && r.werr == nil {
		r.werr = err
	}
}

// checkWrites ends the run after a write error on log.txt or the event
// file: it saves the checkpoint if it still can and says whether it did.
func (r *runner) checkWrites() error {
	if r.werr == nil {
		return nil
	}
	werr := r.werr
	if err := r.save(); err != nil {
		return fmt.Errorf("%v; stopping; the checkpoint could not be written either (%v)", werr, err)
	}
	return fmt.Errorf("%v; stopping; checkpoint written at global step %d, resume with --cont_training once there is space", werr, r.st.GlobalStep)
}
