package autodiff

import (
	"fmt"
	"math"

	"hesscope/tensor"
)

// Var names a value recorded on a Tape.
type Var int

// Primitive is a differentiable operation y = f(x₁, …, xₙ). Its methods never
// modify their inputs. Entries of xDot and xBar may be nil, meaning a zero
// tangent and a cotangent nobody needs; a primitive skips work for them.
// A primitive value is used for one call only, so it may keep what Forward
// computed (a mask, an argmax) for the derivative passes.
type Primitive[T tensor.Float] interface {
	// Shape returns the shape of y for inputs x, and panics if they do not fit.
	Shape(x []*tensor.Dense[T]) []int
	// Forward writes y = f(x) into y, which has the shape Shape returned.
	// y's contents on entry are unspecified (the tape reuses buffers
	// without zeroing them): Forward must write every element.
	Forward(y *tensor.Dense[T], x []*tensor.Dense[T])
	// JVP writes ẏ = ∂f(x)·ẋ into yDot, every element of it (its contents on
	// entry are unspecified, as for Forward). At least one xDot is non-nil.
	JVP(yDot *tensor.Dense[T], x, xDot []*tensor.Dense[T], y *tensor.Dense[T])
	// VJP adds ∂f(x)ᵀ·ȳ to every non-nil xBar[i].
	VJP(xBar []*tensor.Dense[T], yBar *tensor.Dense[T], x []*tensor.Dense[T], y *tensor.Dense[T])
}

// Curved is implemented by primitives whose second derivative is not zero.
type Curved[T tensor.Float] interface {
	Primitive[T]
	// CurvatureVJP adds (∂²f(x)[ẋ])ᵀ·ȳ, the derivative of the VJP along the
	// tangent ẋ with ȳ held fixed, to every non-nil xBarDot[i]. At least one
	// xDot is non-nil; yDot is the tangent JVP computed.
	CurvatureVJP(xBarDot []*tensor.Dense[T], yBar *tensor.Dense[T], x, xDot []*tensor.Dense[T], y, yDot *tensor.Dense[T])
}

// PairJVP is implemented by primitives that compute the value and its
// tangent together, sharing the work both need (a convolution's column
// matrix of x). When any input has a tangent, the tape calls ForwardJVP
// instead of Forward and JVP; y and ẏ have the bits of Forward's and
// JVP's: a kept pass's values come from Forward, a Replay's tangents from
// JVP (or from ForwardJVP, for fusedSweeps primitives), and they must give
// a whole pass's bits (TestReplay).
type PairJVP[T tensor.Float] interface {
	Primitive[T]
	// ForwardJVP writes y = f(x) and ẏ = ∂f(x)·ẋ (every element of both).
	// At least one xDot is non-nil.
	ForwardJVP(y, yDot *tensor.Dense[T], x, xDot []*tensor.Dense[T])
}

// PairVJP is implemented by primitives that compute the two reverse
// products of a forward-over-reverse pass in one call, sharing the work
// that both need (a convolution's column matrix of x, a ReLU's mask). When
// the tape propagates tangents of cotangents, it calls VJPPair instead of
// VJP, VJP and CurvatureVJP:
//
//	x̄  += ∂f(x)ᵀ·ȳ                                    (VJP of ȳ)
//	x̄̇  += ∂f(x)ᵀ·ȳ̇ + (∂²f(x)[ẋ])ᵀ·ȳ                   (VJP of ȳ̇ + curvature)
//
// Every non-nil xBar[j] has a non-nil xBarDot[j]; xBarDot[j] may be non-nil
// where xBar[j] is nil (a leaf recorded by LeafGradDotOnly), and then the
// cotangent's work is skipped and xBarDot[j] gets the same bits as with
// xBar[j] present. yBarDot may be nil (a zero ȳ̇) and so may every xDot
// (then there is no curvature term). x̄ gets VJP's bits (a kept pass's
// cotangents come from VJP, and a Replay must give a whole pass's bits:
// TestReplay); x̄̇ equals that of the separate calls up to rounding (sums
// may be grouped differently) and, like them, is deterministic.
type PairVJP[T tensor.Float] interface {
	Primitive[T]
	VJPPair(xBar, xBarDot []*tensor.Dense[T], yBar, yBarDot *tensor.Dense[T], x, xDot []*tensor.Dense[T], y, yDot *tensor.Dense[T])
}

type node[T tensor.Float] struct {
	prim     Primitive[T] // nil for a leaf
	in       []Var
	val, dot *tensor.Dense[T]
	bar      *tensor.Dense[T]
	barDot   *tensor.Dense[T]
	needBar  bool
	// dotOnly marks a leaf that wants the tangent of its cotangent but not
	// the cotangent itself (LeafGradDotOnly).
	dotOnly bool
}

// Tape records a computation so that it can be differentiated. A Tape is not
// safe for concurrent use; Reset lets it be reused without reallocating.
//
// Backward recycles as it goes: once a primitive's reverse products have
// run, nothing reads the cotangent of its output, that cotangent's tangent
// or the output's tangent again, and their buffers are handed to the next
// cotangents of their size. The cotangents a pass holds at once are then
// those of the values between the primitive being differentiated and the
// ones it feeds (a few per residual block), not one per recorded value: a
// parameter gradient of ResNet-20 at batch 128 allocates 0.62 of what it
// did, and its Hessian-vector product 0.61 (the values are kept).
type Tape[T tensor.Float] struct {
	nodes []node[T]
	// pool holds the buffers of earlier computations (Reset), spare the
	// tangents and cotangents Backward has recycled; both by number of
	// elements. A buffer taken from pool joins owned; one in spare is
	// already there.
	pool, spare map[int][]*tensor.Dense[T]
	owned       []*tensor.Dense[T]
	// kept is 1 + the output BackwardKeep kept the cotangents of, 0 if
	// none (Replay's check).
	kept Var
	// chain holds the values recorded but not computed yet (chunks.go): a
	// chunk producer's, then those of image-wise primitives each reading
	// the one before. A primitive that does not join the chain computes
	// them first, and so does anything that reads values.
	chain []Var
}

// NewTape returns an empty tape.
func NewTape[T tensor.Float]() *Tape[T] {
	return &Tape[T]{pool: map[int][]*tensor.Dense[T]{}, spare: map[int][]*tensor.Dense[T]{}}
}

// Reset forgets every recorded value and keeps the buffers the tape
// allocated for reuse by the next computation. Primitives recorded on the
// tape must not be used after Reset: what they kept from Forward (such as
// MaxPool2d's argmax) may be reused.
func (t *Tape[T]) Reset() {
	t.chain = t.chain[:0]
	for _, b := range t.owned {
		t.pool[len(b.Data)] = append(t.pool[len(b.Data)], b)
	}
	t.owned = t.owned[:0]
	clear(t.spare)
	for _, n := range t.nodes {
		if r, ok := n.prim.(releaser); ok {
			r.release()
		}
	}
	clear(t.nodes)
	t.nodes = t.nodes[:0]
	t.kept = 0
}

// freshWriter is implemented by primitives whose VJP and VJPPair can
// overwrite the cotangents of some inputs instead of adding to them: the
// tape then hands them uncleared buffers, sparing a pass over memory (a
// whole tensor cleared, then read back to be added to), and the primitive
// clears or writes each part of them as it goes, in cache.
type freshWriter[T tensor.Float] interface {
	// freshInputs returns the inputs (bit i for input i) whose cotangents
	// the primitive can take uncleared.
	freshInputs() uint64
	// withFresh returns a copy of the primitive for which bit i of fresh
	// means that xBar[i], and bit 32 + i that xBarDot[i], holds garbage:
	// its next VJP or VJPPair call must write every element of those.
	withFresh(fresh uint64) Primitive[T]
}

// once reports whether v is a single input of in (a cotangent that appears
// twice is added to twice by the same call).
func once(in []Var, v Var) bool {
	k := 0
	for _, u := range in {
		if u == v {
			k++
		}
	}
	return k == 1
}

// alloc returns a zeroed buffer of the given shape owned by the tape. A
// reused buffer is cleared by every CPU: the cotangents of a backward pass
// are zeroed here between the primitives' parallel loops, and at 2 threads
// a serial clear took 4 % of ResNet-20's gradient.
func (t *Tape[T]) alloc(shape []int) *tensor.Dense[T] {
	b, reused := t.allocUninit(shape)
	if reused {
		clearSpans(b.Data)
	}
	return b
}

// allocUninit returns a buffer of the given shape owned by the tape, with
// unspecified contents if reused is true (zero otherwise), for outputs that
// a primitive overwrites.
func (t *Tape[T]) allocUninit(shape []int) (b *tensor.Dense[T], reused bool) {
	n := tensor.Numel(shape)
	if free := t.spare[n]; len(free) > 0 {
		b = free[len(free)-1]
		t.spare[n] = free[:len(free)-1]
		b.Shape = append(b.Shape[:0], shape...)
		return b, true
	}
	if free := t.pool[n]; len(free) > 0 {
		b = free[len(free)-1]
		t.pool[n] = free[:len(free)-1]
		b.Shape = append(b.Shape[:0], shape...)
		reused = true
	} else {
		b = tensor.New[T](shape...)
	}
	t.owned = append(t.owned, b)
	return b, reused
}

// Leaf records an input value. xDot is its tangent (nil for zero); needGrad
// asks Backward for its gradient (and, with tangents, its Hessian-vector
// product). The tape reads x and xDot but never writes them.
func (t *Tape[T]) Leaf(x, xDot *tensor.Dense[T], needGrad bool) Var {
	if xDot != nil && !tensor.SameShape(x.Shape, xDot.Shape) {
		panic(fmt.Sprintf("autodiff: tangent shape %v does not match value shape %v", xDot.Shape, x.Shape))
	}
	t.nodes = append(t.nodes, node[T]{val: x, dot: xDot, needBar: needGrad})
	return Var(len(t.nodes) - 1)
}

// LeafGradDotOnly records an input value, with tangent xDot (nil for zero),
// whose cotangent is not wanted, only its tangent: Backward computes
// GradDot(v), its block of the Hessian-vector product, and leaves Grad(v)
// nil, so the primitives that read v skip the cotangent's work (a weight's
// gradient Σ ȳ·xᵀ, a BatchNorm's sums). GradDot(v) has the same bits as
// with Leaf(x, xDot, true). BackwardFrom with second false, which computes
// cotangents only, leaves v without either.
func (t *Tape[T]) LeafGradDotOnly(x, xDot *tensor.Dense[T]) Var {
	v := t.Leaf(x, xDot, true)
	t.nodes[v].dotOnly = true
	return v
}

// Apply records y = p(inputs…), computes y and, when any input has a tangent,
// ẏ. It returns y's Var. A convolution's y without tangents is computed
// later, together with the values of the primitives after it that are
// computed image by image from it (chunks.go), when the next other
// primitive is recorded or a value is read; the values are the same.
func (t *Tape[T]) Apply(p Primitive[T], inputs ...Var) Var {
	xs, xDots := t.operands(inputs)
	chain := t.extendsChain(p, inputs, xDots)
	if !chain {
		t.flush()
	}
	need := false
	for _, v := range inputs {
		need = need || t.nodes[v].needBar
	}
	y, _ := t.allocUninit(p.Shape(xs))
	var yDot *tensor.Dense[T]
	if xDots != nil {
		yDot, _ = t.allocUninit(y.Shape)
	}
	switch {
	case chain || startsChain(p, xDots):
		t.chain = append(t.chain, Var(len(t.nodes)))
	case xDots != nil:
		if pj, ok := p.(PairJVP[T]); ok {
			pj.ForwardJVP(y, yDot, xs, xDots)
		} else {
			p.Forward(y, xs)
			p.JVP(yDot, xs, xDots, y)
		}
	default:
		p.Forward(y, xs)
	}
	t.nodes = append(t.nodes, node[T]{prim: p, in: inputs, val: y, dot: yDot, needBar: need})
	return Var(len(t.nodes) - 1)
}

// operands returns the values of in and their tangents (xDots nil when
// none has one).
func (t *Tape[T]) operands(in []Var) (xs, xDots []*tensor.Dense[T]) {
	xs = make([]*tensor.Dense[T], len(in))
	for i, v := range in {
		n := &t.nodes[v]
		xs[i] = n.val
		if n.dot != nil {
			if xDots == nil {
				xDots = make([]*tensor.Dense[T], len(in))
			}
			xDots[i] = n.dot
		}
	}
	return xs, xDots
}

// Len returns the number of values recorded since the last Reset; their
// Vars are 0 … Len()−1 in recording order.
func (t *Tape[T]) Len() int { return len(t.nodes) }

// Op returns the primitive that computed v and the Vars of its inputs, or
// nil and nil for a leaf. Tools (FLOP counts, graph dumps) use it to walk a
// recorded computation; the slice must not be modified.
func (t *Tape[T]) Op(v Var) (Primitive[T], []Var) { return t.nodes[v].prim, t.nodes[v].in }

// Value returns the value of v. It is owned by the tape until Reset.
func (t *Tape[T]) Value(v Var) *tensor.Dense[T] {
	t.flush()
	return t.nodes[v].val
}

// Values returns the values of vs (Value of each), as a primitive's
// inputs: what tools walking the tape (Op) pass to its Shape.
func (t *Tape[T]) Values(vs []Var) []*tensor.Dense[T] {
	t.flush()
	xs := make([]*tensor.Dense[T], len(vs))
	for i, v := range vs {
		xs[i] = t.nodes[v].val
	}
	return xs
}

// Tangent returns the tangent of v, or nil if it is zero. Backward
// recycles the tangents of the values primitives computed (see Tape),
// except out's: read them before.
func (t *Tape[T]) Tangent(v Var) *tensor.Dense[T] { return t.nodes[v].dot }

// Grad returns ∂L/∂v after Backward for a leaf v (or the cotangent seed
// of out), or nil if v was not asked for or does not influence L. The
// cotangents of the values primitives computed are recycled during Backward
// (see Tape), and Grad returns nil for them.
func (t *Tape[T]) Grad(v Var) *tensor.Dense[T] { return t.nodes[v].bar }

// GradDot returns the tangent of ∂L/∂v after Backward for a leaf v: the
// Hessian-vector product H·v restricted to v's block, or nil if it is zero
// (nil too for a value a primitive computed, as for Grad).
func (t *Tape[T]) GradDot(v Var) *tensor.Dense[T] { return t.nodes[v].barDot }

// Backward propagates the cotangent ȳ = 1 from the scalar out back to every
// value that needs it and, where tangents were recorded, the tangent of the
// cotangent. It may be called once per recorded computation.
func (t *Tape[T]) Backward(out Var) {
	t.BackwardFrom(out, t.unitSeed(out, "Backward"), true)
}

// unitSeed returns the cotangent ȳ = 1 of the scalar out, for method's
// panic message if out is not a scalar.
func (t *Tape[T]) unitSeed(out Var, method string) *tensor.Dense[T] {
	o := t.nodes[out].val
	if len(o.Data) != 1 {
		panic(fmt.Sprintf("autodiff: %s from a non-scalar of shape %v", method, o.Shape))
	}
	seed := t.alloc(o.Shape)
	seed.Data[0] = 1
	return seed
}

// BackwardFrom propagates the cotangent seed of out (which the tape keeps
// reading, not copying) back through the tape. With second false it computes
// cotangents only, ignoring recorded tangents: a VJP at the recorded point,
// as the Gauss-Newton product needs.
func (t *Tape[T]) BackwardFrom(out Var, seed *tensor.Dense[T], second bool) {
	t.backward(out, seed, second, false)
}

// BackwardKeep propagates the cotangent ȳ = 1 from the scalar out back to
// every value that needs it, ignoring recorded tangents, and keeps every
// cotangent until Reset instead of recycling them: the tape can then
// compute Hessian-vector products for any number of tangents by Replay
// without running the forward and backward passes again.
func (t *Tape[T]) BackwardKeep(out Var) {
	t.backward(out, t.unitSeed(out, "BackwardKeep"), false, true)
	t.kept = out + 1
}

// backward is BackwardFrom; with keep, nothing is recycled.
func (t *Tape[T]) backward(out Var, seed *tensor.Dense[T], second, keep bool) {
	t.flush()
	o := &t.nodes[out]
	if !tensor.SameShape(seed.Shape, o.val.Shape) {
		panic(fmt.Sprintf("autodiff: cotangent shape %v for a value of shape %v", seed.Shape, o.val.Shape))
	}
	o.bar = seed
	for i := int(out); i >= 0; i-- {
		n := &t.nodes[i]
		if n.prim == nil || n.bar == nil || !n.needBar {
			continue
		}
		t.reverse(n, second, false)
		if i != int(out) && !noRecycle && !keep {
			t.recycle(&n.bar)
			t.recycle(&n.barDot)
			t.recycle(&n.dot)
		}
	}
}

// SetTangent sets the tangent of the leaf v (nil for zero) for the next
// Replay. The tape reads xDot but never writes it.
func (t *Tape[T]) SetTangent(v Var, xDot *tensor.Dense[T]) {
	n := &t.nodes[v]
	if n.prim != nil {
		panic("autodiff: SetTangent of a value a primitive computed")
	}
	if xDot != nil && !tensor.SameShape(n.val.Shape, xDot.Shape) {
		panic(fmt.Sprintf("autodiff: tangent shape %v does not match value shape %v", xDot.Shape, n.val.Shape))
	}
	n.dot = xDot
}

// fusedSweeps is implemented by primitives whose paired passes are single
// sweeps over memory (BatchNorm fused with ReLU and the shortcut) and whose
// halves alone take as many passes or more: a Replay computes their
// tangent by ForwardJVP into a scratch value, and their cotangents'
// tangents by VJPPair with scratch cotangents, which it drops. The bits are
// those of the halves alone (PairJVP's and PairVJP's contracts); only the
// time differs.
type fusedSweeps interface{ fusedSweeps() }

func sweeps(p any) bool {
	_, ok := p.(fusedSweeps)
	return ok
}

// Replay computes, on a tape whose cotangents BackwardKeep(out) kept, the
// tangents of every value for the leaves' current tangents (SetTangent)
// and the tangents of the cotangents: GradDot(v) is then H·v's block of
// every leaf v that wanted a gradient. The values and cotangents are not
// computed again, so a product costs the JVPs and the tangent halves of
// the reverse products only. The previous Replay's tangents, and the
// GradDot results it returned, are recycled.
func (t *Tape[T]) Replay(out Var) {
	if t.kept != out+1 {
		panic("autodiff: Replay without BackwardKeep of the same output")
	}
	t.flush()
	for i := range t.nodes[:t.kept] {
		n := &t.nodes[i]
		t.recycle(&n.barDot)
		if n.prim != nil {
			t.recycle(&n.dot)
		}
	}
	for i := range t.nodes[:t.kept] {
		n := &t.nodes[i]
		if n.prim == nil {
			continue
		}
		xs, xDots := t.operands(n.in)
		if xDots == nil {
			continue
		}
		n.dot, _ = t.allocUninit(n.val.Shape)
		if pj, ok := n.prim.(PairJVP[T]); ok && sweeps(n.prim) {
			y, _ := t.allocUninit(n.val.Shape)
			pj.ForwardJVP(y, n.dot, xs, xDots)
			t.recycle(&y)
		} else {
			n.prim.JVP(n.dot, xs, xDots, n.val)
		}
	}
	for i := int(out); i >= 0; i-- {
		n := &t.nodes[i]
		if n.prim == nil || n.bar == nil || !n.needBar {
			continue
		}
		t.reverse(n, true, true)
		if i != int(out) {
			t.recycle(&n.barDot)
			t.recycle(&n.dot)
		}
	}
}

// noRecycle, for tests, keeps every tangent and cotangent until Reset;
// poisonRecycled fills the ones Backward recycles with NaN, so that a
// primitive reading a recycled buffer, or one handed uncleared that it
// fails to write, shows.
var noRecycle, poisonRecycled = false, false

// fillNaN sets every element of b to NaN (the tests' poisoning of buffers
// that must be written before they are read: poisonRecycled,
// poisonShifted).
func fillNaN[T tensor.Float](b []T) {
	for i := range b {
		b[i] = T(math.NaN())
	}
}

// recycle hands the buffer *b, which nothing reads again, to the
// allocations that follow (spare), and forgets it.
func (t *Tape[T]) recycle(b **tensor.Dense[T]) {
	if *b == nil {
		return
	}
	if poisonRecycled {
		fillNaN((*b).Data)
	}
	t.spare[len((*b).Data)] = append(t.spare[len((*b).Data)], *b)
	*b = nil
}

// reverse runs the reverse products of the primitive of node n, whose
// cotangent (and, with second, its tangent) is complete: it adds to the
// cotangents of n's inputs, allocating the ones no primitive has reached
// yet.
//
// With dotOnly (Replay) the cotangents are complete already: only the
// tangents of the cotangents are computed.
func (t *Tape[T]) reverse(n *node[T], second, dotOnly bool) {
	xs := make([]*tensor.Dense[T], len(n.in))
	xBars := make([]*tensor.Dense[T], len(n.in))
	var xDots, xBarDots []*tensor.Dense[T]
	if second && (n.dot != nil || n.barDot != nil) {
		xDots = make([]*tensor.Dense[T], len(n.in))
		xBarDots = make([]*tensor.Dense[T], len(n.in))
	}
	// Cotangents this primitive is the first to add into are given to
	// it uncleared when it can overwrite them (freshWriter), in a
	// single VJP or VJPPair call.
	var accept, fresh uint64
	fw, ok := n.prim.(freshWriter[T])
	if _, pair := n.prim.(PairVJP[T]); ok && (xBarDots == nil || pair) {
		accept = fw.freshInputs()
	}
	cotangent := func(v Var, j int, bit uint) *tensor.Dense[T] {
		shape := t.nodes[v].val.Shape
		if accept>>j&1 == 0 || !once(n.in, v) {
			return t.alloc(shape)
		}
		b, _ := t.allocUninit(shape)
		fresh |= 1 << bit
		return b
	}
	anyDot, anyBar, anyBarDot := false, false, false
	// With dotOnly, the scratch cotangents of a fusedSweeps primitive.
	var scratch []*tensor.Dense[T]
	defer func() {
		for i := range scratch {
			t.recycle(&scratch[i])
		}
	}()
	for j, v := range n.in {
		in := &t.nodes[v]
		xs[j] = in.val
		if xDots != nil {
			xDots[j] = in.dot
			anyDot = anyDot || in.dot != nil
		}
		if !in.needBar {
			continue
		}
		switch {
		case !in.dotOnly && !dotOnly:
			if in.bar == nil {
				in.bar = cotangent(v, j, uint(j))
			}
			xBars[j] = in.bar
			anyBar = true
		case !in.dotOnly && sweeps(n.prim):
			xBars[j] = cotangent(v, j, uint(j))
			scratch = append(scratch, xBars[j])
		}
		if xBarDots != nil {
			if in.barDot == nil {
				in.barDot = cotangent(v, j, 32+uint(j))
			}
			xBarDots[j] = in.barDot
			anyBarDot = true
		}
	}
	if !anyBar && !anyBarDot {
		return // only leaves that want no cotangent here
	}
	prim := n.prim
	if fresh != 0 {
		prim = fw.withFresh(fresh)
	}
	if pair, ok := prim.(PairVJP[T]); ok && anyBarDot {
		pair.VJPPair(xBars, xBarDots, n.bar, n.barDot, xs, xDots, n.val, n.dot)
		return
	}
	if anyBar {
		prim.VJP(xBars, n.bar, xs, n.val)
	}
	if !anyBarDot {
		return
	}
	if n.barDot != nil {
		n.prim.VJP(xBarDots, n.barDot, xs, n.val)
	}
	if c, ok := n.prim.(Curved[T]); ok && anyDot {
		c.CurvatureVJP(xBarDots, n.bar, xs, xDots, n.val, n.dot)
	}
}
