"""Demo accounts for `make run`: created once (random passwords), printed on every run.

The passwords are kept in ``data/secret/demo_accounts.txt`` (git-ignored) so that they can be
shown again; the users file itself holds only their salted hashes (``dip_sim.auth``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import duckdb

from dip_sim.auth import create_demo_accounts, users_path
from dip_sim.paths import SECRET_DIR, default_db

DEMO_FILE = SECRET_DIR / "demo_accounts.txt"


def main(argv: list[str] | None = None) -> int:
    """Create the demo accounts if there are no users; print the demo accounts."""
    parser = argparse.ArgumentParser(prog="python -m pipelines.demo_users")
    parser.add_argument("--db", type=Path, default=default_db())
    args = parser.parse_args(argv)
    with duckdb.connect(str(args.db), read_only=True) as con:
        first = con.execute("SELECT min(hospital_id) FROM hospital_settlement").fetchall()[0][0]
    created = create_demo_accounts(first)
    if created:
        lines = ["角色\t用户名\t医院\t密码"] + [f"{role}\t{name}\t{hospital}\t{password}"
                                             for name, role, hospital, password in created]
        DEMO_FILE.write_text("\n".join(lines) + "\n", encoding="utf-8")
        DEMO_FILE.chmod(0o600)
    if DEMO_FILE.is_file():
        print(f"演示账号（{DEMO_FILE}；用户文件 {users_path()}）:")
        print(DEMO_FILE.read_text(encoding="utf-8"), end="")
    else:
        print(f"用户文件 {users_path()} 已存在：用 dip-sim users list / add 管理账号")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
