"""The worked example of the article in shared/seed (PyTorch's autograd, part 1), on refengine.

Leaves w1..w4 and a; b = w1*a, c = w2*a, d = w3*b + w4*c, L = 10 - d.  Prints the
gradients backward() leaves in the leaves, and the graph of grad_fn nodes it ran.
"""
import refengine as re


def build():
    w1, w2, w3, w4 = (re.tensor([v], requires_grad=True) for v in (2.0, 3.0, 4.0, 5.0))
    a = re.tensor([1.5], requires_grad=True)
    b = w1 * a
    c = w2 * a
    d = w3 * b + w4 * c
    L = 10 - d
    return dict(w1=w1, w2=w2, w3=w3, w4=w4, a=a, b=b, c=c, d=d, L=L)


def print_graph(node, depth=0, seen=None):
    """Walk grad_fn.next_functions the way the article draws the graph."""
    seen = set() if seen is None else seen
    label = node.name() if node is not None else "None (a leaf that does not require grad)"
    again = " (shared, see above)" if node in seen else ""
    print("  " * depth + label + again)
    if node is None or node in seen:
        return
    seen.add(node)
    for nxt, _ in node.next_functions:
        print_graph(nxt, depth + 1, seen)


def main():
    v = build()
    print("graph of L, from L.grad_fn down to the leaves' AccumulateGrad nodes:")
    print_graph(v["L"].grad_fn)
    v["L"].backward()
    print("\ngradients after L.backward():")
    for name in ("w1", "w2", "w3", "w4", "a"):
        print(f"  dL/d{name} = {v[name].grad.item():g}")
    print(f"  b is a non-leaf: b.grad stays {v['b']._grad}")


if __name__ == "__main__":
    main()
