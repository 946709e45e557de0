package desired

import v1 "github.com/bosun-mesh/bosun/api/v1"

// Refusal says why a resource cannot be installed as it is: its Reconciled condition's reason and
// message. A refusal applies nothing and changes nothing that exists; the controllers report it as a
// condition (with a Warning Event and bosun_refusals_total when it first appears), never as an error
// to retry, and `bosun render` prints it as its error.
type Refusal struct {
	// Reason is the reason of the Reconciled condition, one of the api/v1 Reason constants.
	Reason string
	// Err explains the refusal and says what to change; its text is the condition's message.
	Err error
	// Waiting is true when nothing is wrong with the resource: it waits for something bosun makes
	// itself (an Istio's new revision, say), whose arrival wakes it again. A waiting resource gets no
	// Warning and is not counted as refused.
	Waiting bool
	// Recheck is true when what lifts the refusal is a change bosun does not watch (the deletion of an
	// object another installer created, which bosun does not cache): the controller looks again after
	// a while instead of waiting for an event.
	Recheck bool
}

// Error is the refusal's message.
func (r *Refusal) Error() string { return r.Err.Error() }

// Unwrap gives the cause, so that errors.As finds the typed errors of this package.
func (r *Refusal) Unwrap() error { return r.Err }

// refuse makes a refusal with reason.
func refuse(reason string, err error) *Refusal { return &Refusal{Reason: reason, Err: err} }

// invalid refuses a spec bosun cannot install for a reason without a more precise one: an unknown or
// end-of-life version, a profile the version lacks, values that do not fit.
func invalid(err error) *Refusal { return refuse(v1.ReasonReconcileError, err) }
