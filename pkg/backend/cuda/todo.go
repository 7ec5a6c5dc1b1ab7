package cuda

// todo panics for an op of the backend that is not written yet.
func todo(op string) { panic("cuda backend: " + op + " not implemented yet") }
