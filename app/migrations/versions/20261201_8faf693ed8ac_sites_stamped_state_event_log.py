"""sites, shop state stamped with its events, and one append-only event log

Every school-owned row gets a site (the one named in the old ``settings`` table, created
here); codes become unique per site. Station state becomes a history of contexts; the
rows of the shop carry the event that created or ended them; the event log gets its
actor, its raw input apart from its decoded payload, and a trigger that keeps it
append-only. Existing data is kept: contexts open today are carried over under one
"migration" event per site.

Revision ID: 8faf693ed8ac
Revises: 0d1153a3a6a8
Create Date: 2026-12-01 08:28:44.445730

"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "8faf693ed8ac"
down_revision = "0d1153a3a6a8"
branch_labels = None
depends_on = None

# Tables of school data whose codes become unique per site: (table, old unique columns).
CODED = [
    ("frameworks", ["code"]),
    ("students", ["code"]),
    ("badges", ["code"]),
    ("customers", ["code"]),
    ("operation_types", ["code"]),
    ("wps", ["code"]),
    ("work_orders", ["number"]),
    ("pieces", ["code"]),
]
# Tables that only gain their site.
OWNED = ["users", "device_tokens", "mqtt_outbox", "seq_gaps"]
STAMPED = [
    ("presences", ["event_id", "ended_event_id"]),
    ("run_intervals", ["event_id", "ended_event_id"]),
    ("run_participants", ["event_id"]),
    ("operation_runs", ["event_id", "finished_event_id"]),
    ("pieces", ["event_id", "completed_event_id"]),
]
EVENT_KINDS = {
    "status": "mqtt.status",
    "arc_start": "mqtt.arc_start",
    "arc_end": "mqtt.arc_end",
    "samples": "mqtt.samples",
    "arc": "mqtt.unreadable",
    "unknown": "mqtt.unreadable",
}
# Physical bounds of weld figures (app/models/welding.py WELD_BOUNDS).
WELD_CHECKS = {
    "arc_s": (0.0, 3600.0),
    "i_mean_a": (0.0, 1500.0),
    "u_mean_v": (0.0, 100.0),
    "energy_j": (0.0, 1.0e9),
    "length_mm": (1.0, 100_000.0),
}


def _site_column(table: str, index: bool = True) -> None:
    with op.batch_alter_table(table) as batch:
        batch.add_column(sa.Column("site_id", sa.Integer(), nullable=True))
    op.execute(f"UPDATE {table} SET site_id = (SELECT min(id) FROM sites)")  # noqa: S608
    with op.batch_alter_table(table) as batch:
        batch.alter_column("site_id", existing_type=sa.Integer(), nullable=False)
        batch.create_foreign_key(f"fk_{table}_site_id_sites", "sites", ["site_id"], ["id"])
        if index:
            batch.create_index(f"ix_{table}_site_id", ["site_id"], unique=False)


def upgrade():
    conn = op.get_bind()
    op.create_table(
        "sites",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=150), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sites")),
        sa.UniqueConstraint("code", name=op.f("uq_sites_code")),
    )
    now = datetime.now(UTC).replace(tzinfo=None) if conn.dialect.name == "sqlite" else None
    now = now or datetime.now(UTC)
    site_code = conn.execute(sa.text("SELECT value FROM settings WHERE key = 'site'")).scalar()
    has_data = any(
        conn.execute(sa.text(f"SELECT 1 FROM {table} LIMIT 1")).first()  # noqa: S608
        for table in ("stations", "students", "frameworks", "events", "users", "device_tokens")
    )
    if site_code or has_data:
        conn.execute(
            sa.text("INSERT INTO sites (code, name, created_at) VALUES (:c, :c, :t)"),
            {"c": site_code or "ecole", "t": now},
        )

    # -- every school-owned row belongs to a site; codes unique per site --------------------
    for table, columns in CODED:
        _site_column(table)
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(f"uq_{table}_{'_'.join(columns)}", type_="unique")
            batch.create_unique_constraint(
                f"uq_{table}_site_id_{'_'.join(columns)}", ["site_id", *columns]
            )
    for table in OWNED:
        _site_column(table, index=table in {"users", "device_tokens", "mqtt_outbox"})
    _site_column("stations")
    with op.batch_alter_table("mqtt_outbox") as batch:
        batch.add_column(sa.Column("station_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            "fk_mqtt_outbox_station_id_stations", "stations", ["station_id"], ["id"]
        )
        batch.create_index("ix_mqtt_outbox_station_latest", ["station_id", "id"])
    op.execute(
        "UPDATE mqtt_outbox SET station_id = (SELECT s.id FROM stations AS s "
        "WHERE mqtt_outbox.topic LIKE '%/' || s.mqtt_device || '/cfg')"
    )
    with op.batch_alter_table("stations") as batch:
        batch.drop_constraint("uq_stations_code", type_="unique")
        batch.drop_constraint("uq_stations_mqtt_device", type_="unique")
        batch.create_unique_constraint("uq_stations_site_id_code", ["site_id", "code"])
        batch.create_unique_constraint(
            "uq_stations_site_id_mqtt_device", ["site_id", "mqtt_device"]
        )
    with op.batch_alter_table("seq_gaps") as batch:
        batch.drop_index("ix_seq_gaps_device_boot")
        batch.create_index("ix_seq_gaps_device_boot", ["site_id", "device", "boot_id"])
    _site_column("weld_samples", index=False)
    with op.batch_alter_table("weld_samples") as batch:
        batch.drop_constraint("uq_weld_samples_device_boot_id_seq", type_="unique")
        batch.create_unique_constraint(
            "uq_weld_samples_site_id_device_boot_id_seq", ["site_id", "device", "boot_id", "seq"]
        )
    _site_column("welds")
    # Out-of-bounds optional figures (hostile input accepted before) become unknown.
    for column in ("energy_j", "length_mm"):
        low, high = WELD_CHECKS[column]
        op.execute(
            f"UPDATE welds SET {column} = NULL, heat_input_kj_mm = NULL "  # noqa: S608
            f"WHERE {column} < {low} OR {column} > {high}"
        )
    with op.batch_alter_table("welds") as batch:
        batch.drop_constraint("uq_welds_weld_key", type_="unique")
        batch.create_unique_constraint("uq_welds_site_id_weld_key", ["site_id", "weld_key"])
        batch.add_column(sa.Column("attributed_event_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            "fk_welds_attributed_event_id_events", "events", ["attributed_event_id"], ["id"]
        )
        for column, (low, high) in WELD_CHECKS.items():
            batch.create_check_constraint(
                op.f(f"ck_welds_{column}"), sa.text(f"{column} >= {low} AND {column} <= {high}")
            )

    # device_boots: the site joins the primary key.
    op.create_table(
        "device_boots_new",
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("device", sa.String(length=40), nullable=False),
        sa.Column("boot_id", sa.String(length=40), nullable=False),
        sa.Column("station_id", sa.Integer(), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seq", sa.Integer(), nullable=False),
    )
    op.execute(
        "INSERT INTO device_boots_new (site_id, device, boot_id, station_id, first_seen_at, "
        "last_seq) SELECT (SELECT min(id) FROM sites), device, boot_id, station_id, "
        "first_seen_at, last_seq FROM device_boots"
    )
    op.drop_table("device_boots")
    op.create_table(
        "device_boots",
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("device", sa.String(length=40), nullable=False),
        sa.Column("boot_id", sa.String(length=40), nullable=False),
        sa.Column("station_id", sa.Integer(), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["site_id"], ["sites.id"], name=op.f("fk_device_boots_site_id_sites")
        ),
        sa.ForeignKeyConstraint(
            ["station_id"], ["stations.id"], name=op.f("fk_device_boots_station_id_stations")
        ),
        sa.PrimaryKeyConstraint("site_id", "device", "boot_id", name=op.f("pk_device_boots")),
    )
    op.execute("INSERT INTO device_boots SELECT * FROM device_boots_new")
    op.drop_table("device_boots_new")

    # -- people and work orders -------------------------------------------------------------
    with op.batch_alter_table("students") as batch:
        batch.add_column(sa.Column("left_on", sa.Date(), nullable=True))
    with op.batch_alter_table("users") as batch:
        batch.add_column(
            sa.Column("session_version", sa.Integer(), nullable=False, server_default="1")
        )
    with op.batch_alter_table("users") as batch:
        batch.alter_column("session_version", existing_type=sa.Integer(), server_default=None)
    with op.batch_alter_table("work_orders") as batch:
        batch.add_column(sa.Column("drawing", sa.String(length=100), nullable=True))

    # -- the event log ------------------------------------------------------------------------
    with op.batch_alter_table("events") as batch:
        batch.add_column(sa.Column("site_id", sa.Integer(), nullable=True))
        batch.add_column(
            sa.Column("actor_kind", sa.String(length=10), nullable=False, server_default="device")
        )
        batch.add_column(sa.Column("actor_name", sa.String(length=80), nullable=True))
        batch.add_column(sa.Column("user_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("raw", sa.Text(), nullable=True))
        batch.add_column(
            sa.Column("undoable", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(sa.Column("undoes_event_id", sa.Integer(), nullable=True))
    op.execute("UPDATE events SET site_id = (SELECT min(id) FROM sites)")
    op.execute("UPDATE events SET raw = payload")
    op.execute("UPDATE events SET undoable = (undo IS NOT NULL)")
    op.execute(
        "UPDATE events SET undoes_event_id = "
        "(SELECT t.id FROM events AS t WHERE t.undone_by_id = events.id)"
    )
    op.execute("UPDATE events SET actor_kind = 'worker' WHERE channel = 'mqtt'")
    op.execute("UPDATE events SET kind = 'scan' WHERE channel = 'http'")
    op.execute("UPDATE events SET kind = 'http.bad', channel = 'http' WHERE channel = 'http-bad'")
    for old, new in EVENT_KINDS.items():
        op.execute(
            sa.text("UPDATE events SET kind = :new WHERE channel = 'mqtt' AND kind = :old").bindparams(
                new=new, old=old
            )
        )
    op.execute("UPDATE events SET kind = 'mqtt.unreadable' WHERE channel = 'mqtt' AND kind IS NULL")
    op.execute("UPDATE events SET kind = 'unknown' WHERE kind IS NULL")
    with op.batch_alter_table("events") as batch:
        batch.drop_constraint("uq_events_channel_key", type_="unique")
        batch.drop_constraint("fk_events_undone_by_id_events", type_="foreignkey")
        batch.drop_constraint(op.f("ck_events_status"), type_="check")
        batch.drop_column("station_code")
        batch.drop_column("undo")
        batch.drop_column("undone_by_id")
        batch.drop_column("payload")
        batch.alter_column("actor_kind", existing_type=sa.String(length=10), server_default=None)
        batch.alter_column("undoable", existing_type=sa.Boolean(), server_default=None)
        batch.alter_column(
            "kind", existing_type=sa.String(length=20), type_=sa.String(length=30), nullable=False
        )
    with op.batch_alter_table("events") as batch:
        batch.add_column(sa.Column("payload", sa.JSON(none_as_null=True), nullable=True))
        batch.create_check_constraint(
            op.f("ck_events_status"), sa.text("status IN ('pending', 'accepted', 'rejected')")
        )
        batch.create_unique_constraint(
            "uq_events_site_id_channel_key", ["site_id", "channel", "key"]
        )
        batch.create_unique_constraint("uq_events_undoes_event_id", ["undoes_event_id"])
        batch.create_foreign_key("fk_events_site_id_sites", "sites", ["site_id"], ["id"])
        batch.create_foreign_key("fk_events_user_id_users", "users", ["user_id"], ["id"])
        batch.create_foreign_key(
            "fk_events_undoes_event_id_events", "events", ["undoes_event_id"], ["id"]
        )
        batch.create_index("ix_events_site_received", ["site_id", "received_at"])

    # -- stamps: which event created or ended each row ---------------------------------------
    for table, columns in STAMPED:
        with op.batch_alter_table(table) as batch:
            for column in columns:
                batch.add_column(sa.Column(column, sa.Integer(), nullable=True))
                batch.create_foreign_key(f"fk_{table}_{column}_events", "events", [column], ["id"])
                batch.create_index(f"ix_{table}_{column}", [column])
    with op.batch_alter_table("welds") as batch:
        batch.alter_column("attributed_event_id", existing_type=sa.Integer(), nullable=True)
    with op.batch_alter_table("evidence") as batch:
        batch.create_index("ix_evidence_event_id", ["event_id"])
    with op.batch_alter_table("assessments") as batch:
        batch.add_column(sa.Column("comment", sa.String(length=500), nullable=True))
        batch.add_column(sa.Column("event_id", sa.Integer(), nullable=True))
        batch.create_foreign_key("fk_assessments_event_id_events", "events", ["event_id"], ["id"])
        batch.create_index("ix_assessments_event_id", ["event_id"])
    with op.batch_alter_table("run_intervals") as batch:
        batch.create_index(
            "uq_run_intervals_open_run",
            ["run_id"],
            unique=True,
            sqlite_where=sa.text("ended_at IS NULL"),
            postgresql_where=sa.text("ended_at IS NULL"),
        )

    # -- rework rounds ---------------------------------------------------------------------------
    with op.batch_alter_table("pieces") as batch:
        batch.add_column(sa.Column("round", sa.Integer(), nullable=False, server_default="1"))
    with op.batch_alter_table("pieces") as batch:
        batch.alter_column("round", existing_type=sa.Integer(), server_default=None)
    with op.batch_alter_table("operation_runs") as batch:
        batch.add_column(sa.Column("round", sa.Integer(), nullable=False, server_default="1"))
    with op.batch_alter_table("operation_runs") as batch:
        batch.alter_column("round", existing_type=sa.Integer(), server_default=None)
        batch.drop_constraint("uq_operation_runs_piece_id_operation_id", type_="unique")
        batch.create_unique_constraint(
            "uq_operation_runs_piece_id_operation_id_round", ["piece_id", "operation_id", "round"]
        )

    # -- station contexts, carried over from station_states under a migration event -----------
    op.create_table(
        "station_contexts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("station_id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("work_order_id", sa.Integer(), nullable=True),
        sa.Column("operation_id", sa.Integer(), nullable=True),
        sa.Column("piece_id", sa.Integer(), nullable=True),
        sa.Column("active_run_id", sa.Integer(), nullable=True),
        sa.Column("acting_for_id", sa.Integer(), nullable=True),
        sa.Column("paused_by_exit", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["acting_for_id"], ["stations.id"], name=op.f("fk_station_contexts_acting_for_id_stations")
        ),
        sa.ForeignKeyConstraint(
            ["active_run_id"],
            ["operation_runs.id"],
            name=op.f("fk_station_contexts_active_run_id_operation_runs"),
        ),
        sa.ForeignKeyConstraint(
            ["event_id"], ["events.id"], name=op.f("fk_station_contexts_event_id_events")
        ),
        sa.ForeignKeyConstraint(
            ["operation_id"], ["operations.id"], name=op.f("fk_station_contexts_operation_id_operations")
        ),
        sa.ForeignKeyConstraint(
            ["piece_id"], ["pieces.id"], name=op.f("fk_station_contexts_piece_id_pieces")
        ),
        sa.ForeignKeyConstraint(
            ["station_id"], ["stations.id"], name=op.f("fk_station_contexts_station_id_stations")
        ),
        sa.ForeignKeyConstraint(
            ["work_order_id"],
            ["work_orders.id"],
            name=op.f("fk_station_contexts_work_order_id_work_orders"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_station_contexts")),
    )
    with op.batch_alter_table("station_contexts") as batch:
        batch.create_index("ix_station_contexts_event_id", ["event_id"])
        batch.create_index("ix_station_contexts_station_latest", ["station_id", "id"])
    if conn.execute(sa.text("SELECT 1 FROM station_states LIMIT 1")).first():
        conn.execute(
            sa.text(
                "INSERT INTO events (site_id, channel, key, kind, received_at, body_sha256, "
                "actor_kind, actor_name, status, message, undoable) SELECT id, 'cli', "
                "'migration-8faf693ed8ac', 'data.migrate', :t, '', 'cli', 'alembic', "
                "'accepted', 'État des postes repris lors de la mise à jour.', :f FROM sites"
            ),
            {"t": now, "f": False},
        )
        op.execute(
            "INSERT INTO station_contexts (station_id, event_id, work_order_id, operation_id, "
            "piece_id, active_run_id, acting_for_id, paused_by_exit) "
            "SELECT ss.station_id, e.id, ss.work_order_id, ss.operation_id, ss.piece_id, "
            "ss.active_run_id, ss.acting_for_id, ss.paused_by_exit "
            "FROM station_states AS ss JOIN stations AS s ON s.id = ss.station_id "
            "JOIN events AS e ON e.site_id = s.site_id AND e.key = 'migration-8faf693ed8ac'"
        )
    op.drop_table("station_states")
    op.drop_table("settings")

    op.create_table(
        "piece_reviews",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("piece_id", sa.Integer(), nullable=False),
        sa.Column("verdict", sa.String(length=12), nullable=False),
        sa.Column("reviewed_by_id", sa.Integer(), nullable=False),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "verdict IN ('conforme', 'a_reprendre', 'rebut')", name=op.f("ck_piece_reviews_verdict")
        ),
        sa.ForeignKeyConstraint(
            ["event_id"], ["events.id"], name=op.f("fk_piece_reviews_event_id_events")
        ),
        sa.ForeignKeyConstraint(
            ["piece_id"], ["pieces.id"], name=op.f("fk_piece_reviews_piece_id_pieces")
        ),
        sa.ForeignKeyConstraint(
            ["reviewed_by_id"], ["users.id"], name=op.f("fk_piece_reviews_reviewed_by_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_piece_reviews")),
    )
    with op.batch_alter_table("piece_reviews") as batch:
        batch.create_index("ix_piece_reviews_event_id", ["event_id"])
        batch.create_index("ix_piece_reviews_piece_id", ["piece_id"])

    # -- the event log is append-only -----------------------------------------------------------
    # Created last: SQLite's batch mode rebuilds a table it alters, which drops its triggers
    # (a later migration altering events must create them again).
    if conn.dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN IF TG_OP = 'DELETE' OR OLD.status <> 'pending' THEN "
            "RAISE EXCEPTION 'events are append-only'; END IF; RETURN NEW; END $$"
        )
        op.execute(
            "CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON events "
            "FOR EACH ROW EXECUTE FUNCTION events_append_only()"
        )
    else:
        op.execute(
            "CREATE TRIGGER events_append_only_update BEFORE UPDATE ON events "
            "WHEN OLD.status <> 'pending' "
            "BEGIN SELECT RAISE(ABORT, 'events are append-only'); END"
        )
        op.execute(
            "CREATE TRIGGER events_append_only_delete BEFORE DELETE ON events "
            "BEGIN SELECT RAISE(ABORT, 'events are append-only'); END"
        )


def downgrade():
    raise RuntimeError(
        "Cette migration ne se défait pas (sites, journal des événements) : restaurez la "
        "sauvegarde de la base faite avant la mise à jour."
    )
