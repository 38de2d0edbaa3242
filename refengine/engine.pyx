# cython: language_level=3
"""The backward engine: runs a graph of Nodes once, in dependency order.

Each node runs after every node that feeds it gradient has run (dependency
counting over the graph reachable from the roots, with an explicit stack: a
100,000-node chain needs no recursion).  Gradients arriving at one node output
over several paths are summed in a buffer before the node runs.  Without
``create_graph`` gradients are plain ndarrays and grad mode is off; with it they
are Variables and the backward pass is itself recorded, for higher order.
"""
cimport cython
import numpy as np
cimport numpy as cnp
from cpython.dict cimport PyDict_GetItemWithError
from cpython.object cimport PyObject
from cpython.ref cimport Py_REFCNT

from refengine._graphutil cimport _tiny_binary, OP_ADD

from refengine.variable cimport Variable, VersionCounter, make_variable, _version_of, grad_enabled, set_grad_enabled_c
from refengine.function cimport _RunState, Node, AccumulateGrad, grad_accumulator, _run_arith

cnp.import_array()

_UNUSED_MESSAGE = (
    "One of the differentiated Tensors appears to not have been used in the graph. "
    "Set allow_unused=True if this is the desired behavior.")


def _as_tuple(x):
    if x is None:
        return None
    if isinstance(x, (list, tuple)):
        return tuple(x)
    return (x,)


cdef tuple _root_edge(Variable t, Py_ssize_t i):
    if t.grad_fn is not None:
        return (t.grad_fn, t.output_nr)
    if t._requires_grad and not t._volatile:
        return (grad_accumulator(t), 0)
    raise RuntimeError(f"element {i} of tensors does not require grad and does not have a grad_fn")


cdef object _root_grad(Variable t, object g, Py_ssize_t i, bint create_graph):
    """The cotangent of root i: ones for a one-element output, else the user's gradient."""
    if g is None:
        if t.data.size != 1:
            raise RuntimeError("grad can be implicitly created only for scalar outputs")
        arr = np.ones(t.data.shape, t.data.dtype)
        return make_variable(arr, False, False) if create_graph else arr
    if isinstance(g, Variable):
        arr = (<Variable>g).data
    else:
        try:
            arr = np.asarray(g)
        except Exception as e:
            raise TypeError(f"gradient for output {i} must be a Variable or array, got {type(g).__name__}") from None
        if arr.dtype.kind not in "fiub":
            raise TypeError(f"gradient for output {i} has unsupported dtype {arr.dtype}")
    if arr.shape != t.data.shape:
        raise RuntimeError(
            f"Mismatch in shape: grad_output[{i}] has a shape of {list(arr.shape)} and "
            f"output[{i}] has a shape of {list(t.data.shape)}.")
    if create_graph:
        if isinstance(g, Variable) and arr.dtype == t.data.dtype:
            return g
        return make_variable(arr.astype(t.data.dtype), False, False)
    # a copy: the engine never mutates it, and .grad must not alias the user's buffer
    return arr.astype(t.data.dtype, copy=True)


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, inputs=None):
    """Compute the sum of gradients of ``tensors`` w.r.t. graph leaves into their ``.grad``.

    ``grad_tensors`` gives one cotangent per tensor (None allowed for one-element
    tensors).  ``inputs``, if given, restricts accumulation to those Variables.
    """
    outputs = _as_tuple(tensors)
    grads = _as_tuple(grad_tensors) or (None,) * len(outputs)
    if len(grads) != len(outputs):
        raise RuntimeError(f"got {len(grads)} gradients for {len(outputs)} tensors")
    keep = create_graph if retain_graph is None else bool(retain_graph)
    roots = _make_roots(outputs, grads, create_graph)
    if inputs is not None:
        inputs = _as_tuple(inputs)
        captured = _execute(roots, keep, create_graph, inputs, True)
        for v, g in zip(inputs, captured):
            if g is not None:
                _accumulate_into(<Variable>v, g, create_graph)
        return
    _execute(roots, keep, create_graph, None, False)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False,
         allow_unused=False):
    """Return the gradients of ``outputs`` w.r.t. ``inputs`` without touching ``.grad``."""
    outs = _as_tuple(outputs)
    ins = _as_tuple(inputs)
    for i, v in enumerate(ins):
        if not isinstance(v, Variable):
            raise TypeError(f"inputs[{i}] must be a Variable, got {type(v).__name__}")
        if not (<Variable>v).requires_grad:
            raise RuntimeError(f"One of the differentiated Tensors does not require grad")
    grads = _as_tuple(grad_outputs) or (None,) * len(outs)
    if len(grads) != len(outs):
        raise RuntimeError(f"grad_outputs has {len(grads)} entries for {len(outs)} outputs")
    keep = create_graph if retain_graph is None else bool(retain_graph)
    roots = _make_roots(outs, grads, create_graph)
    captured = _execute(roots, keep, create_graph, ins, True)
    result = []
    for g in captured:
        if g is None:
            if not allow_unused:
                raise RuntimeError(_UNUSED_MESSAGE)
            result.append(None)
        elif create_graph:
            result.append(g)
        else:
            result.append(make_variable(g, False, False))
    return tuple(result)


cdef list _make_roots(tuple outputs, tuple grads, bint create_graph):
    cdef list roots = []
    cdef Py_ssize_t i
    for i in range(len(outputs)):
        t = outputs[i]
        if not isinstance(t, Variable):
            raise TypeError(f"tensors[{i}] must be a Variable, got {type(t).__name__}")
        node, nr = _root_edge(<Variable>t, i)
        roots.append((node, nr, _root_grad(<Variable>t, grads[i], i, create_graph)))
    return roots


cdef object _add(object a, object b):
    """a + b (b if a is None): a gradient arriving at a node output already holding one."""
    if a is None:
        return b
    r = _tiny_binary(OP_ADD, a, b)  # two small arrays: the sum numpy gives, without a ufunc call
    return a + b if r is None else r


cdef unsigned long long _runs = 0  # runs started: each run's id


cdef inline _RunState _find(Node n, dict slots, unsigned long long run):
    """This run's state of n: n itself when n carries it, else the run's separate one, or None."""
    if n._run_id == run:
        return n
    if not slots:
        return None
    p = PyDict_GetItemWithError(slots, n)
    return None if p is NULL else <_RunState>p


cdef _RunState _claim(Node n, dict slots, list owned, unsigned long long run):
    """Start n's state in this run (no consumers counted yet): on n when no other run holds it."""
    cdef _RunState s
    if n._run_id == 0:
        s = n
        owned.append(n)
    else:
        s = _RunState.__new__(_RunState)
        slots[n] = s
    s._run_id = run
    s._deps = 0
    s._nout = len(n._output_meta)
    return s


cdef inline _RunState _slot(Node n, dict slots, list owned, unsigned long long run):
    cdef _RunState s = _find(n, slots, run)
    return _claim(n, slots, owned, run) if s is None else s


cdef inline void _accum(_RunState t, object nr, object g):
    """Sum gradient g into output nr of the state's node."""
    if t._nout == 1:
        t._g0 = _add(t._g0, g)
        return
    if t._buf is None:
        t._buf = [None] * t._nout
    t._buf[nr] = _add(t._buf[nr], g)


cdef inline void _push(list stack, Py_ssize_t *top, object x):
    """Push onto a list used as a stack with its own top: popping never shrinks the list (a list
    bouncing between 0 and 1 items reallocates its storage on every append and pop)."""
    if top[0] < len(stack):
        stack[top[0]] = x
    else:
        stack.append(x)
    top[0] += 1


cdef list _execute(list roots, bint keep_graph, bint create_graph, tuple inputs, bint capture):
    """Run the graph from ``roots``.  With ``capture``, return the gradient reaching each of
    ``inputs`` instead of accumulating into leaves, and run only nodes that lead to them."""
    global _runs
    cdef dict slots = {}, targets = {}
    cdef set needed = None
    cdef list stack, ready, grads, outs, owned = []
    cdef Node n, nxt
    cdef _RunState s, t
    cdef Py_ssize_t k, top = 0
    cdef unsigned long long run
    _runs += 1
    run = _runs
    prev_mode = grad_enabled()
    try:
        # 1. what the inputs of autograd.grad correspond to in the graph
        if capture:
            for k in range(len(inputs)):
                v = inputs[k]
                key = (v.grad_fn, v.output_nr) if v.grad_fn is not None else (grad_accumulator(v), 0)
                targets.setdefault(key, []).append(k)
        # 2. discover the graph and count each node's consumers (each node is expanded once,
        #    so each edge is counted once)
        start = [r[0] for r in roots]
        if not capture:
            # a slot doubles as "seen": a node is expanded when it first gets one
            stack = []
            for node in start:
                if _find(<Node>node, slots, run) is None:
                    _claim(<Node>node, slots, owned, run)
                    _push(stack, &top, node)
            while top:
                top -= 1
                n = <Node>stack[top]
                for edge in n.next_functions:
                    nxt_obj = (<tuple>edge)[0]
                    if nxt_obj is None:
                        continue
                    t = _find(<Node>nxt_obj, slots, run)
                    if t is None:
                        t = _claim(<Node>nxt_obj, slots, owned, run)
                        _push(stack, &top, nxt_obj)
                    t._deps += 1
        else:
            seen = set(start)
            stack = list(seen)
            parents = {}
            while stack:
                n = stack.pop()
                for edge in n.next_functions:
                    nxt_obj = (<tuple>edge)[0]
                    if nxt_obj is None:
                        continue
                    parents.setdefault(nxt_obj, []).append(n)
                    if nxt_obj not in seen:
                        seen.add(nxt_obj)
                        stack.append(nxt_obj)
            # autograd.grad runs only the nodes on a path from the roots to the inputs
            needed = set()
            stack = [node for node, _ in targets if node in seen]
            while stack:
                n = stack.pop()
                if n in needed:
                    continue
                needed.add(n)
                stack.extend(parents.get(n, ()))
            for n in needed:
                for nxt_obj, _ in n.next_functions:
                    if nxt_obj is not None and nxt_obj in needed:
                        t = _slot(<Node>nxt_obj, slots, owned, run)
                        t._deps += 1
        # 3. seed the roots' cotangents
        for node, nr, g in roots:
            _accum(_slot(<Node>node, slots, owned, run), nr, g)
        captured = [None] * (len(inputs) if capture else 0)
        ready = []
        top = 0
        for node in dict.fromkeys(start):
            if _find(<Node>node, slots, run)._deps == 0:
                _push(ready, &top, node)
        set_grad_enabled_c(create_graph)
        while top:
            top -= 1
            n = <Node>ready[top]
            ready[top] = None
            s = _find(n, slots, run)
            g0 = None
            grads = None
            if s._nout == 1:  # the gradient alone; a list only where one is needed
                g0 = s._g0
                s._g0 = None
            else:
                grads = s._buf
                s._buf = None
                if grads is None:
                    grads = [None] * s._nout
            if n._tensor_hooks or n._retained or capture:
                if grads is None:
                    grads = [g0]
                if n._tensor_hooks or n._retained:
                    _output_hooks(n, grads, create_graph)
                if capture:
                    for k in range(len(grads)):
                        for idx in targets.get((n, k), ()):
                            captured[idx] = grads[k]
                if s._nout == 1:
                    g0 = grads[0]
                if needed is not None and n not in needed:
                    continue
            if isinstance(n, AccumulateGrad):
                if not capture:
                    if grads is None:
                        # g0, just taken out of its slot, is the gradient's only reference when
                        # no other node, saved tensor, hook or caller holds it: the leaf may keep it
                        _accumulate_leaf(<AccumulateGrad>n, g0, create_graph, Py_REFCNT(g0) == 1)
                    else:
                        _accumulate_leaf(<AccumulateGrad>n, grads[0], create_graph, False)
                continue
            if needed is not None and not _leads_to(n, needed):
                continue
            if grads is None:
                if g0 is None:
                    outs = [None] * len(n.next_functions)
                else:
                    outs = _run_arith(n, g0) if n._arith and not create_graph else None
                    if outs is None:
                        outs = n._run([g0], create_graph)
            elif _all_none(grads):
                outs = [None] * len(n.next_functions)
            else:
                outs = n._run(grads, create_graph)
            if not keep_graph and n._saved:  # what n._release() does, without a Python call
                n._saved = None
                n._freed = True
            for k in range(len(n.next_functions)):
                edge = <tuple>n.next_functions[k]
                nxt_obj = edge[0]
                if nxt_obj is None or (needed is not None and nxt_obj not in needed):
                    continue
                nxt = <Node>nxt_obj
                t = _find(nxt, slots, run)
                g = outs[k]
                if g is not None:
                    _accum(t, edge[1], g)
                t._deps -= 1
                if t._deps == 0:
                    _push(ready, &top, nxt)
            outs = g = None     # the slots now hold these gradients (the leaf's reference test above)
    finally:
        set_grad_enabled_c(prev_mode)
        for node in owned:  # the run is over: release the nodes it held (and any gradients left)
            n = <Node>node
            n._run_id = 0
            n._g0 = None
            n._buf = None
    return captured


cdef bint _all_none(list grads):
    for g in grads:
        if g is not None:
            return False
    return True


cdef bint _leads_to(Node n, set needed):
    for edge in n.next_functions:
        nxt_obj = (<tuple>edge)[0]
        if nxt_obj is not None and nxt_obj in needed:
            return True
    return False


cdef object _call_hook(object hook, object g, bint create_graph):
    """Run a gradient hook: it sees a Variable; a returned value replaces the gradient."""
    gv = g if create_graph else make_variable(g, False, False)
    r = hook(gv)
    if r is None:
        return g
    if not isinstance(r, Variable):
        r = make_variable(np.asarray(r), False, False)
    shape = (<Variable>gv).data.shape
    if (<Variable>r).data.shape != shape:
        raise RuntimeError(
            f"hook '{getattr(hook, '__name__', hook)}' has changed the size of value: expected "
            f"shape {list(shape)}, got {list((<Variable>r).data.shape)}")
    return r if create_graph else (<Variable>r).data


cdef void _output_hooks(Node n, list grads, bint create_graph):
    """Tensor hooks of non-leaf outputs, then retain_grad (which always runs last, as in torch)."""
    cdef Variable v
    if n._tensor_hooks:
        for nr, hooks in n._tensor_hooks.items():
            if grads[nr] is None:
                continue
            for hook in list(hooks):
                grads[nr] = _call_hook(hook, grads[nr], create_graph)
    if n._retained:
        for nr, ref in n._retained.items():
            obj = ref()
            if obj is None or grads[nr] is None:
                continue
            v = obj
            g = grads[nr]
            if create_graph:
                from refengine.ops import clone
                v._grad = clone(g) if v._grad is None else v._grad + g
            else:
                v._grad = make_variable(np.array(g, copy=True) if v._grad is None
                                        else (<Variable>v._grad).data + g, False, False)


cdef void _accumulate_leaf(AccumulateGrad n, object g, bint create_graph, bint sole=False):
    cdef Variable v = n.variable
    if g is None:
        return
    if v._hooks:
        sole = False                # a hook's result may be anything the user holds
        for hook in list(v._hooks):
            g = _call_hook(hook, g, create_graph)
    _accumulate_into(v, g, create_graph, sole)


cdef void _accumulate_into(Variable v, object g, bint create_graph, bint sole=False):
    """Add ``g`` into ``v.grad`` (a fresh buffer the first time, so .grad aliases nothing).

    ``sole``: the engine held the only reference to ``g``; if it also owns its data (no base, so
    no other array shares its memory) it becomes the grad without the copy, as torch's
    AccumulateGrad steals a gradient nothing else references (the MLP benchmark's 784x256
    weight gradient: a 0.8 MB copy per step)."""
    cdef Variable old
    cdef VersionCounter vc
    if create_graph:
        from refengine.ops import clone
        v._grad = clone(g) if v._grad is None else v._grad + g
        return
    if (<object>g).dtype != v.data.dtype:
        g = g.astype(v.data.dtype)
    if v._grad is None:
        if not (sole and type(g) is np.ndarray and (<object>g).base is None
                and (<object>g).flags.owndata and (<object>g).flags.writeable):
            g = np.array(g, copy=True)
        v._grad = make_variable(g, False, False)
        return
    old = v._grad
    if old.grad_fn is None and not old._requires_grad and old.data.flags.writeable:
        np.add(old.data, g, out=old.data, casting="unsafe")
        vc = _version_of(old)
        vc.value += 1
    else:
        v._grad = make_variable(old.data + g, False, False)
