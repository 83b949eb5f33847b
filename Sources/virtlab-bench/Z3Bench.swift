// Z3 queries built through the Swift wrapper against the same queries given to Z3's own
// SMT-LIB2 interpreter as text (the peer), in the same process and library.
import Foundation
import Z3

struct Identity: Sendable {
  let name: String
  let smt: String
  let build: @Sendable (Z3Context) -> BoolExpr
}

let identities: [Identity] = [
  Identity(name: "x^x=0", smt: "(= (bvxor x x) #x00000000)") { z in
    let x = z.bitVectorConstant("x", width: 32)
    return (x ^ x) == 0
  },
  Identity(name: "x<<1=x+x", smt: "(= (bvshl x #x00000001) (bvadd x x))") { z in
    let x = z.bitVectorConstant("x", width: 32)
    return x.shiftLeft(by: 1) == x + x
  },
  Identity(name: "x+y=y+x", smt: "(= (bvadd x y) (bvadd y x))") { z in
    let x = z.bitVectorConstant("x", width: 32)
    let y = z.bitVectorConstant("y", width: 32)
    return x + y == y + x
  },
  Identity(name: "(x&y)+(x|y)=x+y", smt: "(= (bvadd (bvand x y) (bvor x y)) (bvadd x y))") { z in
    let x = z.bitVectorConstant("x", width: 32)
    let y = z.bitVectorConstant("y", width: 32)
    return (x & y) + (x | y) == x + y
  },
]

func seconds(_ body: () throws -> Void) rethrows -> Double {
  let start = DispatchTime.now().uptimeNanoseconds
  try body()
  return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
}

/// Returns whether any proof failed.
func z3Bench() throws -> Bool {
  let rounds = 50
  var failures = 0
  let wrapper = try seconds {
    for _ in 0..<rounds {
      for id in identities {
        let z3 = try Z3Context()
        let s = Solver(z3)
        s.assert(!id.build(z3))
        if !(try s.check().isUnsat) { failures += 1 }
      }
    }
  }
  let text = try seconds {
    for _ in 0..<rounds {
      for id in identities {
        let z3 = try Z3Context()
        let out = try z3.evaluateSMTLIB2(
          "(declare-const x (_ BitVec 32))(declare-const y (_ BitVec 32))(assert (not \(id.smt)))(check-sat)")
        if out != "unsat\n" { failures += 1 }
      }
    }
  }
  let n = Double(rounds * identities.count)
  print(
    "z3 \(Z3Context.version): \(Int(n)) proofs of \(identities.count) 32-bit identities, fresh context each")
  print(String(format: "  swift wrapper      %8.0f proofs/s", n / wrapper))
  print(String(format: "  smt-lib2 text      %8.0f proofs/s  (peer)", n / text))
  print(String(format: "  ratio wrapper/text %8.2f", text / wrapper))
  if failures > 0 { print("bench: \(failures) proofs failed") }
  return failures > 0
}
