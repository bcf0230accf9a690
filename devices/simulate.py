"""Simulated welding stations and readers for demos, tests and benchmarks.

    python -m devices.simulate stations --mqtt-url mqtt://127.0.0.1:1883 --school FILE.yaml
    python -m devices.simulate shift --server URL --token TOKEN --mqtt-url URL --school FILE.yaml
    python -m devices.simulate burst --mqtt-url URL --site belfort --devices ws01,ws02 --welds 500

`stations` runs the school's welding stations (or the devices named by --stations): each
one idles, welds, idles... on a clock `--speed` times faster than real time (timestamps
run ahead of the real clock accordingly; see devices/sim/clock.py). `shift` plays a
compressed workshop day: students scan badges, work orders, operations and pieces over
the HTTP scan API and weld on the simulated stations (arcs in real time, so that weld
timestamps agree with the server's scan times); with `--loop` the next day follows on
fresh piece labels, within each work order's quantity (`--state` keeps the count across
restarts; see devices/sim/counter.py), until Ctrl-C. `--reserve` names students, stations,
work orders and labels a simulation never touches. `burst` publishes N welds per device as
fast as the broker acknowledges them and prints the figures, for benchmarks.

SIGINT or SIGTERM stops cleanly: each station publishes its retained "offline" status and
disconnects. The library classes are in devices/sim/.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

import requests

from devices.sim.clock import ScaledClock
from devices.sim.counter import TOO_MANY_PIECES, PieceCounter
from devices.sim.readers import ScanClient, ScanOutcome
from devices.sim.school import School, SchoolFileError, load_school
from devices.sim.shift import (
    ACTION_BADGE_OUT,
    ShiftAction,
    ShiftPlan,
    ShiftReport,
    ShiftRunner,
    ShiftSettings,
    plan_shift,
)
from devices.sim.station import DEFAULT_TOPIC_ROOT, BurstReport, MqttTarget, WeldingStation
from devices.sim.weld import WeldBehaviour, WeldLimits

logger = logging.getLogger("devices.simulate")

CONNECT_TIMEOUT_S = 15.0
# With --loop, days start at least this far apart (real seconds).
SHORTEST_DAY_S = 20.0
EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


def main(argv: Sequence[str] | None = None) -> int:
    """Run the simulator command line."""
    parser = _build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING if args.quiet else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    stop = threading.Event()
    _install_signal_handlers(stop)
    try:
        if args.command == "stations":
            return _run_stations(args, stop)
        if args.command == "shift":
            return _run_shift(args, stop, parser)
        return _run_burst(args, stop)
    except SchoolFileError as exc:
        print(f"Fichier d'école illisible : {exc}", file=sys.stderr)
        return EXIT_USAGE
    except ValueError as exc:
        print(f"Paramètre invalide : {exc}", file=sys.stderr)
        return EXIT_USAGE


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m devices.simulate",
        description="Postes de soudage et lecteurs simulés (démo, tests, mesures).",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="journal détaillé")
    parser.add_argument("-q", "--quiet", action="store_true", help="avertissements seulement")
    commands = parser.add_subparsers(dest="command", required=True)

    stations = commands.add_parser("stations", help="faire souder des postes simulés en continu")
    _add_mqtt_options(stations)
    stations.add_argument("--site", help="site des topics MQTT (par défaut : celui du fichier)")
    stations.add_argument("--school", type=Path, help="fichier YAML de l'école")
    stations.add_argument(
        "--stations", help="postes à simuler : mqtt_device ou code, séparés par des virgules"
    )
    stations.add_argument("--speed", type=float, default=1.0, help="accélération du temps")
    stations.add_argument("--seed", type=int, help="graine pour des soudures reproductibles")
    stations.add_argument(
        "--idle-s", type=_range, default=(10.0, 60.0), help="pause entre soudures (min,max)"
    )
    stations.add_argument("--max-welds", type=int, help="nombre de soudures par poste")
    stations.add_argument(
        "--outbox-dir", type=Path, help="garder les messages non envoyés dans des fichiers SQLite"
    )
    _add_weld_options(stations)

    shift = commands.add_parser("shift", help="jouer une journée d'atelier compressée")
    shift.add_argument("--server", required=True, help="URL du serveur Atelier")
    shift.add_argument(
        "--token", default=os.environ.get("ATELIER_TOKEN"), help="jeton (ou ATELIER_TOKEN)"
    )
    shift.add_argument(
        "--mqtt-url",
        default=os.environ.get("ATELIER_MQTT_URL"),
        help="courtier MQTT des postes de soudage (sans lui, pas de soudures)",
    )
    shift.add_argument("--root", default=os.environ.get("ATELIER_TOPIC_ROOT", DEFAULT_TOPIC_ROOT))
    shift.add_argument(
        "--mqtt-password",
        default=os.environ.get("ATELIER_STATION_PASSWORD"),
        help="mot de passe MQTT des postes (ou ATELIER_STATION_PASSWORD)",
    )
    shift.add_argument("--school", type=Path, required=True, help="fichier YAML de l'école")
    shift.add_argument("--speed", type=float, default=30.0, help="accélération de la journée")
    shift.add_argument("--seed", type=int, default=1, help="graine du déroulé")
    shift.add_argument("--duration-s", type=float, help="arrêter après ce temps réel (s)")
    shift.add_argument("--students", type=int, default=4, help="nombre d'élèves en parallèle")
    shift.add_argument("--day-hours", type=float, default=7.0, help="durée de la journée (h)")
    shift.add_argument(
        "--first-piece", type=int, default=1, help="premier numéro d'étiquette pièce pré-imprimée"
    )
    shift.add_argument(
        "--arc-s", type=_range, default=(4.0, 12.0), help="durée réelle des arcs (min,max)"
    )
    shift.add_argument("--out-of-range-rate", type=float, default=0.1)
    shift.add_argument(
        "--loop",
        action="store_true",
        help="rejouer une journée après l'autre, sur des étiquettes neuves, jusqu'à Ctrl-C",
    )
    shift.add_argument(
        "--day-gap-s",
        type=float,
        default=SHORTEST_DAY_S,
        help=f"avec --loop, au moins N s réelles d'un début de journée au suivant "
        f"({SHORTEST_DAY_S:g} par défaut)",
    )
    shift.add_argument(
        "--state",
        type=Path,
        help="fichier JSON du compteur d'étiquettes (pièces déjà faites par OF), gardé d'un "
        "lancement à l'autre",
    )
    shift.add_argument(
        "--pieces-per-order",
        type=int,
        help="au plus N étiquettes neuves par OF et par journée (répartit le travail)",
    )
    shift.add_argument(
        "--reserve",
        help="codes à ne jamais utiliser, séparés par des virgules : élève (id ou badge), "
        "poste (code ou mqtt_device), OF, étiquette pièce",
    )
    shift.add_argument(
        "--wait-s",
        type=float,
        default=0.0,
        help="attendre jusqu'à N s que le serveur réponde avant chaque journée",
    )
    shift.add_argument(
        "--mqtt-passwords",
        default=os.environ.get("ATELIER_STATION_PASSWORDS"),
        help="mot de passe MQTT de chaque poste : ws01=…,ws02=… (ou ATELIER_STATION_PASSWORDS)",
    )

    burst = commands.add_parser("burst", help="publier N soudures au plus vite (mesures)")
    _add_mqtt_options(burst)
    burst.add_argument("--site", required=True)
    burst.add_argument("--devices", required=True, help="postes, séparés par des virgules")
    burst.add_argument("--welds", type=int, required=True, help="soudures par poste")
    burst.add_argument("--samples", action="store_true", help="publier aussi les échantillons")
    burst.add_argument("--process", default="135")
    burst.add_argument("--window", type=int, default=20, help="messages en vol par poste")
    burst.add_argument("--seed", type=int)
    burst.add_argument("--json", action="store_true", help="résultat en JSON sur stdout")
    _add_weld_options(burst)
    return parser


def _add_mqtt_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--mqtt-url",
        default=os.environ.get("ATELIER_MQTT_URL", "mqtt://127.0.0.1:1883"),
        help="mqtt://hôte:port du courtier (ou ATELIER_MQTT_URL)",
    )
    parser.add_argument("--root", default=os.environ.get("ATELIER_TOPIC_ROOT", DEFAULT_TOPIC_ROOT))
    parser.add_argument(
        "--mqtt-password",
        default=os.environ.get("ATELIER_STATION_PASSWORD"),
        help="mot de passe MQTT des postes (ou ATELIER_STATION_PASSWORD)",
    )


def _add_weld_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out-of-range-rate", type=float, default=0.1)
    parser.add_argument("--tack-rate", type=float, default=0.1)
    parser.add_argument("--known-length-rate", type=float, default=0.25)
    parser.add_argument("--arc-s", type=_range, help="durée des soudures hors pointage (min,max)")


def _range(text: str) -> tuple[float, float]:
    low, sep, high = text.partition(",")
    if not sep:
        raise argparse.ArgumentTypeError(f"attendu min,max : {text!r}")
    values = (float(low), float(high))
    if values[0] > values[1] or values[0] < 0:
        raise argparse.ArgumentTypeError(f"intervalle invalide : {text!r}")
    return values


def _install_signal_handlers(stop: threading.Event) -> None:
    def handle(signum: int, frame: FrameType | None) -> None:
        """Ask every loop to stop; the main thread then shuts the stations down."""
        logger.info("signal %d received: stopping", signum)
        stop.set()

    signal.signal(signal.SIGINT, handle)
    signal.signal(signal.SIGTERM, handle)


def _behaviour(args: argparse.Namespace) -> WeldBehaviour:
    return WeldBehaviour(
        out_of_range_rate=args.out_of_range_rate,
        tack_rate=args.tack_rate,
        known_length_rate=args.known_length_rate,
        arc_s=args.arc_s,
    )


def _station_specs(
    school: School | None, wanted: list[str] | None
) -> list[tuple[str, str, WeldLimits | None]]:
    """Return (device, process, WPS limits) for each station to simulate."""
    if school is None:
        return [(device, "135", None) for device in wanted or []]
    specs: list[tuple[str, str, WeldLimits | None]] = []
    matched: set[str] = set()
    for station in school.welding_stations:
        assert station.mqtt_device is not None
        names = {station.mqtt_device, station.code}
        if wanted and not names & set(wanted):
            continue
        matched |= names
        process = station.process_hint or "135"
        wps = school.default_wps(process)
        specs.append((station.mqtt_device, process, wps.limits if wps else None))
    for name in wanted or []:
        if name not in matched:
            # A device the file does not know is still simulated, as a MAG station.
            specs.append((name, "135", None))
    return specs


def _split(text: str | None) -> list[str] | None:
    if not text:
        return None
    return [part.strip() for part in text.split(",") if part.strip()]


def _power_on_all(stations: list[WeldingStation]) -> bool:
    for station in stations:
        station.power_on()
    connected = all(station.wait_connected(CONNECT_TIMEOUT_S) for station in stations)
    if not connected:
        print(
            "Courtier MQTT injoignable pour le moment : les postes gardent leurs soudures "
            "et les enverront dès la connexion.",
            file=sys.stderr,
        )
    return connected


def _power_off_all(stations: list[WeldingStation]) -> None:
    for station in stations:
        station.close()


def _run_stations(args: argparse.Namespace, stop: threading.Event) -> int:
    school = load_school(args.school) if args.school else None
    site = args.site or (school.site if school else None)
    wanted = _split(args.stations)
    if site is None:
        print("Indiquez --site ou --school.", file=sys.stderr)
        return EXIT_USAGE
    specs = _station_specs(school, wanted)
    if not specs:
        print("Aucun poste de soudage à simuler (--stations ou --school).", file=sys.stderr)
        return EXIT_USAGE
    target = MqttTarget.parse(args.mqtt_url)
    clock = ScaledClock(args.speed)
    behaviour = _behaviour(args)
    stations = [
        WeldingStation(
            device,
            target,
            site=site,
            root=args.root,
            process=process,
            limits=limits,
            behaviour=behaviour,
            clock=clock,
            seed=args.seed,
            outbox_path=args.outbox_dir / f"{device}.sqlite" if args.outbox_dir else None,
            password=args.mqtt_password,
        )
        for device, process, limits in specs
    ]
    _power_on_all(stations)
    print(
        f"Postes simulés : {', '.join(s.device for s in stations)} — courtier {args.mqtt_url}, "
        f"site {site}, vitesse ×{args.speed:g}. Ctrl-C pour arrêter.",
        flush=True,
    )
    threads = [
        threading.Thread(
            target=station.run,
            args=(stop,),
            kwargs={"idle_s": args.idle_s, "max_welds": args.max_welds},
            name=f"station-{station.device}",
            daemon=True,
        )
        for station in stations
    ]
    for thread in threads:
        thread.start()
    while not stop.wait(0.5):
        if args.max_welds is not None and all(not t.is_alive() for t in threads):
            break
    for thread in threads:
        thread.join(timeout=30.0)
    total = sum(s.welds_done for s in stations)
    _power_off_all(stations)
    print(f"Arrêt : {total} soudure(s) simulée(s), postes déclarés hors ligne.", flush=True)
    return EXIT_OK


def _run_burst(args: argparse.Namespace, stop: threading.Event) -> int:
    devices = _split(args.devices) or []
    target = MqttTarget.parse(args.mqtt_url)
    behaviour = _behaviour(args)
    stations = [
        WeldingStation(
            device,
            target,
            site=args.site,
            root=args.root,
            process=args.process,
            behaviour=behaviour,
            seed=args.seed,
            password=args.mqtt_password,
            window=args.window,
            follow_cfg=False,
        )
        for device in devices
    ]
    if not _power_on_all(stations):
        _power_off_all(stations)
        return EXIT_FAILED
    reports: dict[str, BurstReport] = {}

    def burst(station: WeldingStation) -> None:
        """Publish this station's welds and keep its figures."""
        reports[station.device] = station.publish_welds(args.welds, with_samples=args.samples)

    began = time.monotonic()
    threads = [threading.Thread(target=burst, args=(s,), daemon=True) for s in stations]
    for thread in threads:
        thread.start()
    for thread in threads:
        while thread.is_alive() and not stop.is_set():
            thread.join(timeout=0.5)
    elapsed_s = time.monotonic() - began
    _power_off_all(stations)
    if stop.is_set() and len(reports) < len(stations):
        print("Rafale interrompue.", file=sys.stderr)
        return EXIT_FAILED
    messages = sum(r.messages for r in reports.values())
    acknowledged = all(r.acknowledged for r in reports.values())
    figures = {
        "devices": len(stations),
        "welds": sum(len(r.welds) for r in reports.values()),
        "messages": messages,
        "with_samples": bool(args.samples),
        "elapsed_s": round(elapsed_s, 3),
        "msg_per_s": round(messages / elapsed_s, 1) if elapsed_s > 0 else None,
        "acknowledged": acknowledged,
    }
    if args.json:
        print(json.dumps(figures), flush=True)
    else:
        print(
            f"Rafale : {figures['welds']} soudure(s), {messages} message(s) en "
            f"{elapsed_s:.2f} s ({figures['msg_per_s']} msg/s), "
            + ("tous acquittés par le courtier." if acknowledged else "PAS tous acquittés !"),
            flush=True,
        )
    return EXIT_OK if acknowledged else EXIT_FAILED


def _run_shift(
    args: argparse.Namespace, stop: threading.Event, parser: argparse.ArgumentParser
) -> int:
    if not args.token:
        parser.error("jeton manquant : --token ou la variable ATELIER_TOKEN")
    whole = load_school(args.school)
    reserved = set(_split(args.reserve) or [])
    unknown = reserved - whole.names() - {r for r in reserved if r.startswith("P-")}
    if unknown:
        logger.warning("--reserve names nothing in %s: %s", args.school, ", ".join(sorted(unknown)))
    school = whole.without(reserved)
    passwords = _passwords(args.mqtt_passwords)
    counter = PieceCounter.load(args.state, first_piece=args.first_piece)
    stations: list[WeldingStation] = []
    if args.mqtt_url:
        target = MqttTarget.parse(args.mqtt_url)
        behaviour = WeldBehaviour(out_of_range_rate=args.out_of_range_rate)
        stations = [
            WeldingStation(
                station.mqtt_device,
                target,
                site=school.site,
                root=args.root,
                process=station.process_hint or "135",
                behaviour=behaviour,
                seed=args.seed,
                password=passwords.get(station.mqtt_device, args.mqtt_password),
            )
            for station in school.welding_stations
            if station.mqtt_device is not None
        ]
        _power_on_all(stations)
    else:
        print("Pas de --mqtt-url : la journée se joue sans soudures.", file=sys.stderr)
    code = EXIT_OK
    day = 0
    with ScanClient(args.server, args.token, event_prefix="shift") as scans:
        while not stop.is_set():
            day += 1
            began_s = time.monotonic()
            if args.wait_s and not _wait_for_server(args.server, args.wait_s, stop):
                if stop.is_set():
                    break
                print(f"Serveur {args.server} injoignable ({args.wait_s:g} s).", file=sys.stderr)
            _release_stations(args.server, args.token, school, scans)
            code = _play_day(args, school, counter, scans, stations, stop=stop, day=day)
            if code != EXIT_OK or not args.loop:
                break
            # Days start at least this far apart: a day with nothing left to do must not
            # turn into a tight loop.
            stop.wait(max(0.0, args.day_gap_s - (time.monotonic() - began_s)))
    _power_off_all(stations)
    return code


def _play_day(
    args: argparse.Namespace,
    school: School,
    counter: PieceCounter,
    scans: ScanClient,
    stations: list[WeldingStation],
    *,
    stop: threading.Event,
    day: int,
) -> int:
    """Plan one day on fresh labels within the orders' quantities, play it, count it."""
    settings = ShiftSettings(
        seed=args.seed + day - 1,
        students=args.students,
        day_s=args.day_hours * 3600.0,
        speed=args.speed,
        first_piece=counter.next_piece,
        arc_real_s=args.arc_s,
        pieces_left=counter.left(school),
        pieces_per_order=args.pieces_per_order,
        reserved_labels=frozenset(r for r in _split(args.reserve) or [] if r.startswith("P-")),
    )
    plan = plan_shift(school, settings)
    counter.hand_out(plan.pieces)
    fresh = sum(len(labels) for labels in plan.pieces.values())
    real_s = plan.actions[-1].at_s / settings.speed if plan.actions else 0.0
    if fresh == 0:
        print(
            "Toutes les pièces des OF de l'école sont lancées (quantités atteintes) : "
            "plus de nouvelle pièce à simuler.",
            file=sys.stderr,
            flush=True,
        )
    print(
        f"Journée simulée n° {day} : {len(plan.students)} élève(s), {len(plan.actions)} "
        f"action(s), {fresh} étiquette(s) pièce à partir du n° {settings.first_piece}, "
        f"environ {real_s / 60:.1f} min à ×{settings.speed:g}. Ctrl-C pour arrêter.",
        flush=True,
    )
    runner = ShiftRunner(plan, scans, {s.device: s for s in stations}, stop=stop)
    report = runner.run(args.duration_s)
    labels = {label for own in plan.pieces.values() for label in own}
    full = {
        action.work_order
        for action, outcome in _piece_scans(plan, report)
        if outcome.error_code == TOO_MANY_PIECES and action.work_order
    }
    counter.settle(
        plan.pieces,
        scanned=(o.code for o in report.outcomes if o.code in labels),
        full=full,
        quantities={w.number: w.quantity for w in school.work_orders},
    )
    total = len(report.outcomes)
    accepted = report.count("accepted") + report.count("duplicate")
    print(
        f"Fin de journée n° {day} : {total} scan(s), {accepted} accepté(s), "
        f"{len(report.refusals)} refusé(s), {report.count('failed')} non transmis, "
        f"{report.welds} soudure(s).",
        flush=True,
    )
    unauthorised = sum(1 for o in report.outcomes if o.http_status == 401)
    if total and unauthorised == total:
        print("Aucun scan n'a été accepté : jeton refusé par le serveur.", file=sys.stderr)
        return EXIT_FAILED
    if total and report.count("failed") == total and not stop.is_set():
        print("Aucun scan n'a été accepté : serveur injoignable.", file=sys.stderr)
        return EXIT_OK if args.loop else EXIT_FAILED
    return EXIT_OK


def _piece_scans(plan: ShiftPlan, report: ShiftReport) -> list[tuple[ShiftAction, ScanOutcome]]:
    """Pair each piece-label scan played with the planned action it came from."""
    by_label = {a.code: a for a in plan.actions if a.note == "piece" and a.code}
    return [(by_label[o.code], o) for o in report.outcomes if o.code in by_label]


def _passwords(text: str | None) -> dict[str, str]:
    """Parse `device=password,device=password` (passwords hold neither `,` nor `=`)."""
    found: dict[str, str] = {}
    for part in _split(text) or []:
        device, sep, password = part.partition("=")
        if not sep or not device or not password:
            raise ValueError("mots de passe MQTT attendus sous la forme poste=mot-de-passe,…")
        found[device] = password
    return found


def _wait_for_server(server: str, timeout_s: float, stop: threading.Event) -> bool:
    """Wait until the server's health endpoint answers 200; tell whether it did."""
    deadline = time.monotonic() + timeout_s
    url = server.rstrip("/") + "/api/v1/health"
    while not stop.is_set() and time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=2.0).status_code == 200:
                return True
        except requests.RequestException:
            pass
        stop.wait(0.3)
    return False


def _release_stations(server: str, token: str, school: School, scans: ScanClient) -> None:
    """Badge out whoever an earlier run left badged in at this simulation's stations."""
    # A run stopped all at once (the demo's processes get SIGTERM together) or killed
    # cannot badge its students out; their next day would begin with a badge scan that
    # badges them out instead of in.
    try:
        answer = requests.get(
            server.rstrip("/") + "/api/v1/stations",
            headers={"Authorization": f"Bearer {token}"},
            timeout=5.0,
        )
    except requests.RequestException as exc:
        logger.info("cannot list the stations (%s): nobody badged out", type(exc).__name__)
        return
    if answer.status_code != 200:
        logger.info("stations not readable with this token (HTTP %d)", answer.status_code)
        return
    body = answer.json()
    ours = {s.code for s in school.stations}
    for station in body.get("stations", []) if isinstance(body, dict) else []:
        if station.get("code") in ours and station.get("students"):
            logger.info("badging out who was left at %s", station["code"])
            scans.scan(ACTION_BADGE_OUT, station=station["code"])


if __name__ == "__main__":
    sys.exit(main())
