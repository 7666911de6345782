package experiment

import "context"

// StopIfDone stops a computation that has no cancellation of its own — an
// eigensolver or an ascent, from its progress callback — by panicking with
// ctx's error once ctx is done. Interruptible turns the panic back into
// that error.
func StopIfDone(ctx context.Context) {
	if err := ctx.Err(); err != nil {
		panic(stopped{err})
	}
}

// stopped is the panic value of StopIfDone.
type stopped struct{ err error }

// Interruptible runs f and returns its error or, if a StopIfDone inside it
// stopped it, the context's error. Other panics go on.
func Interruptible(f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			s, ok := r.(stopped)
			if !ok {
				panic(r)
			}
			err = s.err
		}
	}()
	return f()
}
