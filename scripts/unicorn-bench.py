#!/usr/bin/env python3
"""The peer of `make bench`: times flat-binary guests in unicorn (PyPI) under the same loading
convention as VirtLab (docs/loading.md): loaded and entered at 0x1000, 32-bit protected mode,
flat segments, ESP = 0x90000, 16 MiB of RAM. Runs until the guest's HLT.

usage: unicorn-bench.py GUEST.bin STOP-ADDRESS [REPEATS]
prints "seconds eax version": the best of REPEATS runs from 0x1000 until EIP = STOP-ADDRESS
"""
import sys
import time

from unicorn import Uc, UC_ARCH_X86, UC_MODE_32, UC_PROT_ALL, __version__
from unicorn.x86_const import UC_X86_REG_EAX, UC_X86_REG_ESP, UC_CPU_X86_CORE2DUO


def run(binary: bytes, stop: int) -> tuple[float, int]:
    uc = Uc(UC_ARCH_X86, UC_MODE_32, cpu=UC_CPU_X86_CORE2DUO) if "cpu" in Uc.__init__.__code__.co_varnames else Uc(UC_ARCH_X86, UC_MODE_32)
    uc.mem_map(0, 16 << 20, UC_PROT_ALL)
    uc.mem_write(0x1000, binary)
    uc.reg_write(UC_X86_REG_ESP, 0x90000)
    start = time.perf_counter()
    uc.emu_start(0x1000, stop)
    seconds = time.perf_counter() - start
    return seconds, uc.reg_read(UC_X86_REG_EAX)


def main() -> None:
    if len(sys.argv) < 3:
        raise SystemExit(__doc__)
    binary = open(sys.argv[1], "rb").read()
    stop = int(sys.argv[2], 0)
    repeats = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    results = [run(binary, stop) for _ in range(repeats)]
    best = min(r[0] for r in results)
    print(f"{best:.6f} {results[0][1]:08x} {__version__}")


if __name__ == "__main__":
    main()
