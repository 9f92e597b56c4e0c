"""Reads an Innkeep iCal export with the independent `icalendar` parser (PyPI) and checks it line by line.

The Swift export tests call it through the venv that scripts/py-env builds, with the feed's raw bytes on
stdin. It prints one JSON object: {"events": [{"uid", "start", "end", "summary"}], "prodid", "version"} and
exits 0; it exits 1 naming the first problem when the bytes break RFC 5545's framing: a line not ended
by CRLF, a bare LF or CR, a physical line over 75 octets, a folded line that does not start with a space.
"""
import json
import sys

from icalendar import Calendar


def main() -> int:
    raw = sys.stdin.buffer.read()
    if not raw.endswith(b"\r\n"):
        print("check-ical-export: the feed does not end with CRLF", file=sys.stderr)
        return 1
    lines = raw[:-2].split(b"\r\n")
    for n, line in enumerate(lines, 1):
        if b"\n" in line or b"\r" in line:
            print(f"check-ical-export: line {n} holds a bare LF or CR", file=sys.stderr)
            return 1
        if len(line) > 75:
            print(f"check-ical-export: line {n} is {len(line)} octets (max 75)", file=sys.stderr)
            return 1
        line.decode("utf-8")  # every physical line is whole UTF-8: folding never splits a character
    cal = Calendar.from_ical(raw)
    events = [
        {"uid": str(e.get("uid")), "start": e.decoded("dtstart").isoformat(), "end": e.decoded("dtend").isoformat(),
         "summary": str(e.get("summary")), "stamp": e.get("dtstamp") is not None,
         "value_date": e.get("dtstart").params.get("VALUE") == "DATE" and e.get("dtend").params.get("VALUE") == "DATE",
         "keys": sorted(k.lower() for k in e.keys())}
        for e in cal.walk("VEVENT")
    ]
    print(json.dumps({"events": events, "prodid": str(cal.get("prodid")), "version": str(cal.get("version"))}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
