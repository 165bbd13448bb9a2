#!/usr/bin/env python3
"""Adds to a seeded bench data set (SQLite, after the server has migrated it) the rows the
after-statement lists read, so that they can be measured at scale:

- scrap: one piece of material scrapped on every 30th consumption (the rejects list);
- invoices: one per locked statement — none for the latest month (still waiting), registered
  for the month before, accepted for the one before that, accepted and paid in full for the
  older ones (the invoice list, a statement's invoicing and the aging list).

Usage: python3 bench/settlement_rows.py path/to/subcon.sqlite
Written straight through SQL like the rest of the bench data (not on the audit trail).
"""
import sqlite3
import sys
import uuid


def main(path: str) -> None:
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    if db.execute("SELECT COUNT(*) FROM invoices").fetchone()[0]:
        sys.exit("invoices already present: run this once per seeded data set")
    finance = db.execute("SELECT id FROM users WHERE login = 'finance'").fetchone()[0]
    unit = 10_000  # FixedDecimal's units per piece

    moves = db.execute("SELECT supplier_id, item_id, lot, order_id, order_line_no, document_id, created_at "
                       "FROM material_movements WHERE kind = 'consumed' AND rowid % 30 = 0").fetchall()
    db.executemany("INSERT INTO material_movements (id, supplier_id, item_id, lot, kind, quantity, allowance, order_id, "
                   "order_line_no, document_id, receipt_line_id, created_by, created_at) "
                   "VALUES (?, ?, ?, ?, 'scrapped', ?, 0, ?, ?, ?, NULL, ?, ?)",
                   [(str(uuid.uuid4()).upper(), s, i, lot, unit, o, n, d, finance, at + 60) for (s, i, lot, o, n, d, at) in moves])

    periods = [p for (p,) in db.execute("SELECT DISTINCT period FROM statements ORDER BY period DESC")]
    statements = db.execute("SELECT id, supplier_id, period, net, tax, gross, tax_percent, locked_at FROM statements "
                            "WHERE status = 'locked' AND period < ?", (periods[0],)).fetchall()
    invoices, payments = [], []
    for seq, (sid, supplier, period, net, tax, gross, rate, locked) in enumerate(statements, start=1):
        status = "registered" if period == periods[1] else "accepted"
        paid = gross if period < periods[2] else 0
        y, m = map(int, period.split("-"))
        issue = f"{y + m // 12}-{m % 12 + 1:02d}-05"
        iid = str(uuid.uuid4()).upper()
        decided = None if status == "registered" else locked + 86_400 * 7
        invoices.append((iid, supplier, sid, f"{seq:08d}", "3200261130", issue, net, rate, tax, gross, status, "", "",
                         None if decided is None else finance, decided, paid, 2 if paid else 1, seq, finance, locked + 86_400 * 5,
                         locked + 86_400 * (30 if paid else 7)))
        if paid:
            payments.append((str(uuid.uuid4()).upper(), iid, sid, supplier, f"{y + m // 12}-{m % 12 + 1:02d}-28", paid,
                             f"PAY-{seq:07d}", finance, locked + 86_400 * 30))
    db.executemany("INSERT INTO invoices (id, supplier_id, statement_id, number, invoice_code, issue_date, net, tax_percent, tax, gross, "
                   "status, flags, decision_reason, decided_by, decided_at, paid, version, change_seq, created_by, created_at, updated_at) "
                   "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", invoices)
    db.executemany("INSERT INTO invoice_payments (id, invoice_id, statement_id, supplier_id, paid_on, amount, reference, created_by, created_at) "
                   "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", payments)
    db.execute("UPDATE statement_feed SET seq = ? WHERE id = 2", (len(invoices),))
    db.commit()
    print(f"scrap movements: {len(moves)}, invoices: {len(invoices)}, payments: {len(payments)}")


if __name__ == "__main__":
    main(sys.argv[1])
