; Bit-vector identities over all 32-bit values, and one that is false.
; Each claim is proved by asserting its negation: unsat means it holds for every x.
(set-logic QF_BV)
(declare-const x (_ BitVec 32))

; x ^ x == 0
(push 1)
(assert (not (= (bvxor x x) #x00000000)))
(check-sat)
(pop 1)

; x << 1 == x + x
(push 1)
(assert (not (= (bvshl x #x00000001) (bvadd x x))))
(check-sat)
(pop 1)

; False: x + 1 > x (unsigned). sat, and the model is the counterexample.
(push 1)
(assert (not (bvugt (bvadd x #x00000001) x)))
(check-sat)
(get-value (x))
(pop 1)
