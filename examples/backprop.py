"""Backpropagation on the graph of f(x, y, z) = (x + y) * z, the lesson's first example.

Run: python examples/backprop.py
"""

import functrace as ft


def f(x, y, z):
    q = x + y
    return q * z


def main():
    x, y, z = -2.0, 5.0, -4.0
    print("The program functrace traces from f (its computation graph):")
    print(ft.make_jaxpr(f)(x, y, z))
    print(f"\nForward pass: q = x + y = {x + y}, f = q * z = {f(x, y, z)}")

    grads = ft.grad(f, argnums=(0, 1, 2))(x, y, z)
    print("\nBackward pass: df/dx, df/dy, df/dz =", tuple(float(g) for g in grads))

    print("\ngrad(f) is a program too: the forward equations, then the backward ones:")
    print(ft.make_jaxpr(ft.grad(f, argnums=(0, 1, 2)))(x, y, z))


if __name__ == "__main__":
    main()
