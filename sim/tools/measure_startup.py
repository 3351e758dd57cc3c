#!/usr/bin/python3
"""Measures vsray-sim's start time (launch to ready line) and resident memory.

usage: measure_startup.py PATH/TO/vsray-sim [VMS ...]   (default 10 1000 5000)
"""
import json
import os
import subprocess
import sys
import time


def measure(binary, vms):
    began = time.monotonic()
    proc = subprocess.Popen([binary, "--vms", str(vms), "--frozen-per-host", "frozen"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    ready = json.loads(proc.stdout.readline())
    elapsed = time.monotonic() - began
    time.sleep(1)  # let the guest agent and the GC settle
    with open(f"/proc/{proc.pid}/status") as f:
        fields = dict(line.split(":", 1) for line in f)
    rss_mb = int(fields["VmRSS"].split()[0]) / 1024
    hwm_mb = int(fields["VmHWM"].split()[0]) / 1024
    proc.terminate()
    code = proc.wait(30)
    return ready["inventory"]["vms"], elapsed, rss_mb, hwm_mb, code


def main():
    binary = sys.argv[1]
    counts = [int(n) for n in sys.argv[2:]] or [10, 1000, 5000]
    print(f"{'--vms':>6} {'VMs':>6} {'start s':>8} {'RSS MB':>7} {'peak MB':>8} exit")
    for n in counts:
        vms, elapsed, rss, hwm, code = measure(binary, n)
        print(f"{n:>6} {vms:>6} {elapsed:>8.2f} {rss:>7.0f} {hwm:>8.0f} {code}")


if __name__ == "__main__":
    main()
