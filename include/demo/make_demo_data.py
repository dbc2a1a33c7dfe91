"""Regenerate the demo data (deterministic): CRM contacts CSV, purchase events JSON lines, loyalty SQLite.

    python include/demo/make_demo_data.py

The CRM file carries a few deliberately bad rows (unparseable date, malformed email, a row with a
missing column) so the demo shows quarantine at work while the run still succeeds.
"""

from __future__ import annotations

import csv
import json
import random
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
FIRST = ["Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "John", "Katherine", "Tim", "Radia", "Ken"]
LAST = ["Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Allen", "Backus", "Johnson", "Berners-Lee"]
CITIES = [("London", "GB"), ("Paris", "FR"), ("Berlin", "DE"), ("Lisbon", "PT"), ("Oslo", "NO"), ("Austin", "US")]
PEOPLE = 60


def people(rng: random.Random) -> list[dict]:
    out = []
    for i in range(1, PEOPLE + 1):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        city, country = rng.choice(CITIES)
        out.append(
            {
                "crm_id": f"CRM-{i:05d}",
                "first": first,
                "last": last,
                "email": f"{first}.{last}{i}@example.com".lower(),
                "phone": f"+44 20 7946 {rng.randint(1000, 9999)}",
                "city": city,
                "country": country,
                "birth": (datetime(1960, 1, 1) + timedelta(days=rng.randint(0, 14000))).strftime("%d/%m/%Y"),
            }
        )
    return out


def write_contacts(rows: list[dict], rng: random.Random) -> None:
    path = HERE / "crm_contacts.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Contact ID", "First Name", "Last Name", "Email", "Phone", "City", "Country", "Birth Date", "Opt In", "Modified"])
        for i, p in enumerate(rows):
            email = f"  {p['email'].upper()} " if i % 7 == 0 else p["email"]  # messy casing/spaces get cleaned
            birth = p["birth"]
            if i == 11:
                birth = "31/02/1990"  # impossible date → CAST_FAILED
            if i == 23:
                email = "not-an-email"  # fails the email expectation
            modified = (datetime(2026, 1, 1, tzinfo=UTC) + timedelta(hours=i)).isoformat()
            writer.writerow([p["crm_id"], p["first"], p["last"], email, p["phone"], p["city"], p["country"], birth, rng.choice(["yes", "no"]), modified])
        handle.write("CRM-99999,Broken,Row\n")  # wrong number of columns → MALFORMED_ROW


def write_events(rows: list[dict], rng: random.Random) -> None:
    path = HERE / "purchase_events.jsonl"
    products = [("SKU-TEA", 4.5), ("SKU-MUG", 12.0), ("SKU-BAG", 30.0), ("SKU-KIT", 55.25)]
    start = datetime(2026, 3, 1, tzinfo=UTC)
    with path.open("w", encoding="utf-8") as handle:
        for n in range(200):
            person = rng.choice(rows)
            sku, price = rng.choice(products)
            qty = rng.randint(1, 3)
            event = {
                "id": f"evt-{n:06d}",
                "type": "purchase",
                "ts": (start + timedelta(minutes=37 * n)).isoformat(),
                "customer": {"crm_id": person["crm_id"], "email": person["email"]},
                "sku": sku,
                "qty": qty,
                "total": round(price * qty, 2),
                "currency": "EUR",
                "channel": rng.choice(["web", "store", "app"]),
            }
            # flatten the customer block: JSON lines sources map top-level keys
            event["customer_email"] = event.pop("customer")["email"]
            event["crm_id"] = person["crm_id"]
            handle.write(json.dumps(event) + "\n")


def write_loyalty(rows: list[dict], rng: random.Random) -> None:
    path = HERE / "loyalty.db"
    path.unlink(missing_ok=True)
    db = sqlite3.connect(path)
    db.execute(
        "CREATE TABLE members (member_id TEXT PRIMARY KEY, email TEXT, phone TEXT, tier TEXT, points INTEGER, updated_at TEXT NOT NULL)"
    )
    start = datetime(2026, 2, 1, tzinfo=UTC)
    members = []
    for i, person in enumerate(rows[::2]):  # half the CRM contacts are loyalty members
        members.append(
            (
                f"LOY-{i:04d}",
                person["email"],
                person["phone"],
                rng.choice(["bronze", "silver", "gold"]),
                rng.randint(0, 5000),
                (start + timedelta(hours=3 * i)).strftime("%Y-%m-%d %H:%M:%S"),
            )
        )
    db.executemany("INSERT INTO members VALUES (?, ?, ?, ?, ?, ?)", members)
    db.commit()
    db.close()


def main() -> None:
    rng = random.Random(20261122)
    rows = people(rng)
    write_contacts(rows, rng)
    write_events(rows, rng)
    write_loyalty(rows, rng)


if __name__ == "__main__":
    main()
