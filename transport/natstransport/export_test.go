package natstransport

// SetDropHook makes the end drop (not publish) each frame that drop
// returns true for: the fault injection of the package's tests. drop is
// called with the end's lock held, one frame at a time.
func (c *ControllerEnd) SetDropHook(drop func(subject string, data []byte) bool) {
	h := dropHook(drop)
	c.drop.Store(&h)
}

// SetDropHook is ControllerEnd.SetDropHook for an engine end.
func (e *EngineEnd) SetDropHook(drop func(subject string, data []byte) bool) {
	h := dropHook(drop)
	e.drop.Store(&h)
}
