"""The French help of every command: Atelier's, Flask-Migrate's ``db`` and Flask's own.

House style keeps English docstrings on our commands, and Flask's and Flask-Migrate's help
texts are plain English strings that no catalog can reach. So the French a person reads in
``--help`` lives here, one table entry per command path, applied once every command is
registered (:func:`apply`, at every ``create_app``: the command objects are module-level,
shared by every app, and applying twice changes nothing). It also names the values in
French (``NOM``, ``FICHIER`` rather than ``NAME``, ``FILE``) and lays the help out with
French punctuation. ``tests/test_i18n_cli.py`` fails when a command, an option or an
argument of the application has no French here, so a new command cannot ship in English.
"""

from __future__ import annotations

import gettext
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

import click
from flask import Flask
from flask.cli import cli as flask_cli

OPTIONS_METAVAR = "[PARAMÈTRES]"
SUBCOMMAND_METAVAR = "COMMANDE [ARGUMENTS]..."
# Click names a value after its type (TEXT, INTEGER…) when the option gives no metavar.
# Inside « » and before « ; » or « : », spaces are non-breaking: Click wraps help at spaces.
TYPE_METAVARS = {
    "text": "TEXTE",
    "integer": "ENTIER",
    "float": "NOMBRE",
    "boolean": "BOOLÉEN",
    "uuid": "UUID",
    "filename": "FICHIER",
    "file": "FICHIER",
    "directory": "DOSSIER",
    "path": "CHEMIN",
}


class FrenchHelpFormatter(click.HelpFormatter):
    """Click's help layout with French punctuation: "Paramètres :", not "Paramètres:"."""

    def write_heading(self, heading: str) -> None:
        """Write a section heading, a space before its colon."""
        self.write(f"{'':>{self.current_indent}}{heading} :\n")


class FrenchContext(click.Context):
    """A Click context whose help is laid out the French way."""

    formatter_class = FrenchHelpFormatter


@dataclass(frozen=True)
class French:
    """What a person reads about one command: its help, its options' help, its values' names."""

    help: str
    short_help: str | None = None
    options: Mapping[str, str] = field(default_factory=dict)  # parameter name -> help
    metavars: Mapping[str, str] = field(default_factory=dict)  # parameter name -> value name


# Atelier's commands (app/cli.py), by path under `flask --app app`; "" is the group of them all.
ATELIER: dict[str, French] = {
    "": French(
        "Commandes d'Atelier : données de l'école, jetons des appareils, comptes du "
        "personnel, réception MQTT, impressions, livrets et base de données."
    ),
    "data": French("Importer ou exporter les données de l'école (YAML)."),
    "data retention": French(
        "Lister les élèves dont la durée de conservation est passée ; --apply pour les effacer.\n\n"
        "Un élève sorti (left_on du fichier de l'école) depuis plus de "
        "ATELIER_RETENTION_DAYS jours (365 par défaut) et pas encore effacé est listé avec "
        "son code et sa date de sortie. Sans --apply, rien ne change (simulation). Avec "
        "--apply, chacun est effacé comme sur demande (nom, code, badges, habilitations, "
        "commentaires, journal réécrit ; ses pièces restent comptées) : le timer systemd "
        "atelier-retention le fait chaque nuit.",
    ),
    "student": French("Les données d'un élève (RGPD) : les exporter, les effacer."),
    "student export": French(
        "Écrire tout ce qui est gardé sur un élève (son CODE, E…) en JSON (droit d'accès).\n\n"
        "Identité, badges, habilitations, présences, opérations et pièces, soudures, "
        "évaluations, ressentis, niveaux : le même fichier que « record export --format "
        "json ». L'export est inscrit au journal d'audit.",
        metavars={"code": "CODE", "output": "FICHIER"},
    ),
    "student erase": French(
        "Effacer les données personnelles d'un élève, sur sa demande ou celle de ses parents.\n\n"
        "Son nom devient « Élève effacé », son code un code neutre EFF-…, ses badges, ses "
        "habilitations et les commentaires à son sujet sont supprimés et tout ce qui le nomme "
        "dans le journal est réécrit ; ses pièces et ses niveaux restent, anonymes. "
        "Définitif : le code est à retaper pour confirmer, sauf avec --yes.",
        metavars={"code": "CODE"},
    ),
    "data import": French(
        "Créer ou mettre à jour les données de l'école depuis un fichier YAML.\n\n"
        "Tout ou rien : si le fichier contient une erreur, rien n'est modifié et chaque "
        "erreur est affichée avec sa ligne.",
        metavars={"file": "FICHIER"},
    ),
    "data export": French(
        "Écrire les données de l'école au format de l'import.",
        metavars={"output": "FICHIER"},
    ),
    "token": French("Gérer les jetons des appareils (bornes, lecteurs)."),
    "token create": French(
        "Créer un jeton d'appareil et l'afficher seul sur la dernière ligne.\n\n"
        "Le jeton n'est affiché qu'une fois : copiez-le tout de suite dans la configuration "
        "de l'appareil.",
        metavars={"name": "NOM", "station_code": "POSTE"},
    ),
    "token list": French("Lister les jetons des appareils (jamais les jetons eux-mêmes)."),
    "token revoke": French(
        "Révoquer un jeton d'appareil par son numéro.\n\n"
        "La révocation vaut partout en 30 secondes au plus.",
        metavars={"token_id": "NUMÉRO"},
    ),
    "user": French("Gérer les comptes des enseignants et administrateurs."),
    "user create": French(
        "Créer un compte (ou en réinitialiser un importé) et afficher un mot de passe "
        "provisoire.\n\n"
        "Le mot de passe provisoire est à changer à la première connexion.",
        options={"role": "Rôle du compte : teacher (enseignant) ou admin (administrateur)."},
        metavars={"email": "E-MAIL", "name": "NOM"},
    ),
    "ingest": French("Recevoir les messages des postes de soudage."),
    "ingest mqtt": French(
        "Recevoir les messages MQTT des postes de soudage jusqu'à SIGTERM ou Ctrl-C.\n\n"
        "Un seul processus par site.",
        metavars={"client_id": "IDENTIFIANT"},
    ),
    "mqtt": French("Configurer le courtier MQTT des postes de soudage."),
    "mqtt acl": French(
        "Écrire la liste de droits (ACL) Mosquitto des postes de soudage du site.\n\n"
        "Chaque poste n'écrit que ses propres topics, sous son propre site, et ne lit que sa "
        "cfg ; le worker d'ingestion lit tous les postes du site. À refaire après un "
        "changement des postes.",
        metavars={"output": "FICHIER", "worker_user": "COMPTE"},
    ),
    "kiosk": French("Gérer les bornes des élèves (activation, révocation)."),
    "kiosk enrol": French(
        "Créer le lien d'activation de la borne du POSTE (ST-…) et l'afficher seul sur la "
        "dernière ligne.\n\n"
        "Le lien commence par ATELIER_PUBLIC_URL ; il vaut 15 minutes et ne sert qu'une fois. "
        "Ouvert dans le navigateur de la borne, il lui donne son identifiant (un cookie) et "
        "mène à /borne.",
        metavars={"station": "POSTE"},
    ),
    "kiosk list": French("Lister les bornes activées (jamais leurs identifiants)."),
    "kiosk revoke": French(
        "Révoquer une borne par son numéro : elle revient à l'écran d'activation.\n\n"
        "La révocation vaut partout en 2 secondes au plus.",
        metavars={"kiosk_id": "NUMÉRO"},
    ),
    "day": French("La journée de l'atelier : la fin de journée."),
    "day close": French(
        "Fin de journée : mettre en pause les opérations en cours et badger tout le monde en "
        "sortie.\n\n"
        "À lancer à l'heure de fermeture (ATELIER_CLOSING_TIME, 18:00 par défaut) : le "
        "timer systemd atelier-day-close le fait chaque jour. Les chronomètres s'arrêtent à "
        "l'heure de fermeture même si la commande part en retard ; avant cette heure, ils "
        "s'arrêtent tout de suite (fermeture anticipée). Une seule fois par jour : relancée, "
        "elle ne change rien.",
    ),
    "labels": French("Imprimer les étiquettes, fiches suiveuses, badges et planches d'actions."),
    "labels render": French(
        "Écrire l'étiquette d'un code (OF, opération, pièce, poste, badge, action).\n\n"
        "Un code connu du site porte sa légende : l'OF et le produit d'une pièce, le nom "
        "d'un poste, le prénom et l'initiale du titulaire d'un badge, le mot d'une action.",
        metavars={"code": "CODE", "fmt": "FORMAT", "dpi": "DPI", "output": "FICHIER"},
    ),
    "labels traveller": French(
        "Écrire la fiche suiveuse d'un OF (PDF).",
        metavars={"number": "OF", "output": "FICHIER"},
    ),
    "labels sheet": French(
        "Attribuer les N prochains numéros de pièce de l'année à un OF et écrire leur planche.\n\n"
        "Les numéros attribués ne resserviront jamais, même si la planche n'est pas "
        "imprimée. La plage attribuée est affichée sur la sortie standard.",
        metavars={
            "number": "OF",
            "count": "N",
            "stock_name": "SUPPORT",
            "start": "K",
            "output": "FICHIER",
        },
    ),
    "labels badges": French(
        "Écrire les badges imprimés (B-…) des élèves actifs, au format carte.\n\n"
        "Prénom et initiale seulement ; les élèves sans badge imprimé sont signalés.",
        metavars={"framework": "RÉFÉRENTIEL", "start": "K", "output": "FICHIER"},
    ),
    "labels actions": French(
        "Écrire la planche d'actions d'une borne (A-FIN, A-PAUSE, A-ANNULE, A-SORTIE, A-AIDE).",
        metavars={"station_code": "POSTE", "output": "FICHIER"},
    ),
    "labels stations": French(
        "Écrire une étiquette par poste du site, avec son nom (PDF).",
        metavars={"stock_name": "SUPPORT", "output": "FICHIER"},
    ),
    "record": French("Les livrets des élèves (compétences, heures, soudage)."),
    "record export": French(
        "Écrire le livret d'un ÉLÈVE (son code, E…) en PDF ou en CSV, ou toutes ses données "
        "en JSON (droit d'accès).\n\n"
        "Pour chaque compétence de son référentiel : le niveau actuel et son historique avec "
        "les pièces, puis les heures par type d'opération, le soudage par procédé et position "
        "et la qualification de soudeur. L'export est inscrit au journal d'audit. Le CSV "
        "(séparateur « ; », UTF-8 avec BOM) s'ouvre tel quel dans un tableur français.",
        metavars={"student": "ÉLÈVE", "output": "FICHIER"},
    ),
}

_DIRECTORY = {"directory": "Dossier des scripts de migration (par défaut « migrations »)."}
_SQL = {"sql": "Ne pas toucher à la base : écrire le SQL sur la sortie standard."}
_TAG = {"tag": "Étiquette libre, transmise aux scripts env.py personnalisés."}
_X_ARG = {"x_arg": "Argument supplémentaire pour les scripts env.py personnalisés."}
_VERBOSE = {"verbose": "Afficher plus de détails."}
_NEW_REVISION = {
    "message": "Message de la révision.",
    "head": "Révision de tête (ou <branche>@head) sur laquelle fonder la nouvelle révision.",
    "splice": "Accepter comme « tête » une révision qui n'en est pas une.",
    "branch_label": "Étiquette de branche à donner à la nouvelle révision.",
    "version_path": "Dossier de versions (de la configuration) où écrire la révision.",
    "rev_id": "Identifiant imposé pour la révision, au lieu d'un identifiant généré.",
}
_REVISION = {"revision": "RÉVISION"}

# Flask-Migrate's `db` group (Alembic under the hood).
MIGRATE: dict[str, French] = {
    "db": French(
        "Faire évoluer le schéma de la base de données (migrations Alembic).",
        options=_DIRECTORY | _X_ARG,
    ),
    "db branches": French(
        "Afficher les points de branchement actuels.", options=_DIRECTORY | _VERBOSE
    ),
    "db check": French("Vérifier s'il reste des changements à migrer.", options=_DIRECTORY),
    "db current": French(
        "Afficher la révision actuelle de chaque base de données.",
        options=_DIRECTORY | _VERBOSE,
    ),
    "db downgrade": French(
        "Revenir à une version précédente (par défaut, celle d'avant).",
        options=_DIRECTORY | _SQL | _TAG | _X_ARG,
        metavars=_REVISION,
    ),
    "db edit": French(
        "Ouvrir un fichier de révision dans l'éditeur.", options=_DIRECTORY, metavars=_REVISION
    ),
    "db heads": French(
        "Afficher les têtes disponibles dans le dossier des scripts.",
        options=_DIRECTORY
        | _VERBOSE
        | {"resolve_dependencies": "Traiter les dépendances comme des révisions parentes."},
    ),
    "db history": French(
        "Lister les scripts de migration dans l'ordre chronologique.",
        options=_DIRECTORY
        | _VERBOSE
        | {
            "rev_range": "Plage de révisions, au format [début]:[fin].",
            "indicate_current": "Signaler la révision actuelle.",
        },
    ),
    "db init": French(
        "Créer un nouveau dossier de migrations.",
        options=_DIRECTORY
        | {
            "multidb": "Gérer plusieurs bases de données.",
            "template": "Modèle de dossier à utiliser (par défaut « flask »).",
            "package": "Écrire des fichiers __init__.py vides dans les dossiers créés.",
        },
    ),
    "db list-templates": French("Lister les modèles de dossier de migrations disponibles."),
    "db merge": French(
        "Fusionner deux révisions dans un nouveau fichier de révision.",
        options=_DIRECTORY
        | {
            "message": "Message de la révision de fusion.",
            "branch_label": _NEW_REVISION["branch_label"],
            "rev_id": _NEW_REVISION["rev_id"],
        },
        metavars={"revisions": "RÉVISION"},
    ),
    "db migrate": French(
        "Générer un fichier de révision d'après les modèles (comme « revision --autogenerate »).",
        options=_DIRECTORY | _SQL | _X_ARG | _NEW_REVISION,
    ),
    "db revision": French(
        "Créer un nouveau fichier de révision.",
        options=_DIRECTORY
        | _SQL
        | _NEW_REVISION
        | {
            "autogenerate": "Remplir la révision avec les changements trouvés en comparant "
            "la base aux modèles.",
        },
    ),
    "db show": French(
        "Afficher la révision désignée par le symbole donné.",
        options=_DIRECTORY,
        metavars=_REVISION,
    ),
    "db stamp": French(
        "Inscrire la révision donnée dans la table des versions, sans rien migrer.",
        options=_DIRECTORY
        | _SQL
        | _TAG
        | {"purge": "Vider la table alembic_version avant d'y inscrire la révision."},
        metavars=_REVISION,
    ),
    "db upgrade": French(
        "Passer à une version plus récente (par défaut, la dernière : head).",
        options=_DIRECTORY | _SQL | _TAG | _X_ARG,
        metavars=_REVISION,
    ),
}

_DEBUG = {"debug": "Activer le mode débogage."}

# Flask's own group and commands: the `flask` program itself, `run`, `shell`, `routes`.
FLASK: dict[str, French] = {
    "": French(
        "Commandes d'Atelier et de Flask.\n\n"
        "L'application se donne avec l'option --app (flask --app app …), la variable "
        "d'environnement FLASK_APP, ou un fichier wsgi.py ou app.py dans le dossier courant.",
        options=_DEBUG
        | {
            "env_file": "Charger les variables d'environnement de ce fichier ; elles priment "
            "sur celles de .env et .flaskenv, et celles de l'environnement priment sur tout. "
            "Demande python-dotenv.",
            "app": "L'application Flask, ou la fonction qui la crée, au format « module:nom » "
            "(le nom peut manquer s'il vaut app, application, create_app ou make_app).",
            "version": "Afficher la version de Flask.",
        },
        metavars={"app": "MODULE"},
    ),
    "run": French(
        "Lancer un serveur web de développement local.\n\n"
        "Ce serveur ne sert qu'au développement : il n'a ni la robustesse, ni la sécurité, "
        "ni les performances d'un serveur de production (Atelier se déploie avec gunicorn). "
        "Avec --debug, il se recharge tout seul et montre un débogueur.",
        short_help="Lancer un serveur web de développement.",
        options=_DEBUG
        | {
            "host": "Adresse d'écoute.",
            "port": "Port d'écoute.",
            "cert": "Fichier de certificat, pour servir en HTTPS.",
            "key": "Fichier de la clé privée du certificat.",
            "reload": "Recharger (ou non) le serveur quand le code change ; oui par défaut "
            "en mode débogage.",
            "debugger": "Activer (ou non) le débogueur ; oui par défaut en mode débogage.",
            "with_threads": "Traiter (ou non) plusieurs requêtes à la fois.",
            "extra_files": "Autres fichiers dont le changement recharge le serveur, séparés "
            "par « : ».",
            "exclude_patterns": "Fichiers (motifs fnmatch) dont le changement ne recharge pas "
            "le serveur, séparés par « : ».",
        },
        metavars={
            "host": "ADRESSE",
            "port": "PORT",
            "cert": "FICHIER",
            "extra_files": "FICHIERS",
            "exclude_patterns": "MOTIFS",
        },
    ),
    "shell": French(
        "Ouvrir un interpréteur Python dans le contexte de l'application.\n\n"
        "Pratique pour lancer quelques lignes d'administration sans rien configurer.",
        short_help="Ouvrir un interpréteur Python dans l'application.",
    ),
    "routes": French(
        "Afficher toutes les routes de l'application, avec leur point d'entrée et leurs méthodes.",
        short_help="Afficher les routes de l'application.",
        options={
            "sort": "Ordre des routes ; « match » est l'ordre dans lequel Flask les essaie.",
            "all_methods": "Afficher aussi les méthodes HEAD et OPTIONS.",
        },
    ),
}


def apply(app: Flask) -> None:
    """Give every command of the application, and Flask's own, its French help."""
    for path, command in walk(app.cli):
        _frenchify(command, (ATELIER | MIGRATE).get(path))
    apply_flask()


def apply_flask() -> None:
    """Give the ``flask`` program's group and its own commands (run, shell…) French help."""
    for path, command in walk(flask_cli, flask_builtins_only=True):
        _frenchify(command, FLASK.get(path))


def walk(
    group: click.Group, flask_builtins_only: bool = False
) -> Iterator[tuple[str, click.Command]]:
    """Yield the group and every command under it, with their paths ("" for the group)."""
    yield "", group
    for name, command in sorted(group.commands.items()):
        # Flask's group also holds the commands of installed Flask plugins: not ours to word.
        if flask_builtins_only and not _from_flask(command):
            continue
        if isinstance(command, click.Group):
            for path, sub in walk(command):
                yield f"{name} {path}".strip(), sub
        else:
            yield name, command


def untranslated(app: Flask) -> list[str]:
    """List what a person would read in English: commands, options or values with no French."""
    problems: list[str] = []
    trees = [
        (list(walk(app.cli)), ATELIER | MIGRATE),
        (list(walk(flask_cli, flask_builtins_only=True)), FLASK),
    ]
    for commands, table in trees:
        for path, command in commands:
            label = f"`{path or '(racine)'}`"
            text = table.get(path)
            if text is None:
                problems.append(f"{label}: no French help")
                continue
            names = {param.name for param in command.params}
            for param in command.params:
                if isinstance(param, click.Argument) and param.name not in text.metavars:
                    problems.append(f"{label}: argument {param.name} has no French name")
                # Our own options may carry their French help in app/cli.py.
                own_help = path in ATELIER and bool(getattr(param, "help", None))
                option = isinstance(param, click.Option)
                if option and param.name not in text.options and not own_help:
                    problems.append(f"{label}: option {param.name} has no French help")
            for name in [*text.options, *text.metavars]:
                if name not in names:
                    problems.append(f"{label}: the table names {name}, which it does not have")
        paths = {path for path, _command in commands}
        problems.extend(f"`{path}`: in the table, not in the CLI" for path in set(table) - paths)
    return problems


def _from_flask(command: click.Command) -> bool:
    module = getattr(command.callback, "__module__", None) or ""
    return module == "flask" or module.startswith("flask.")


def _frenchify(command: click.Command, text: French | None) -> None:
    if text is not None:
        command.help = text.help
        command.short_help = text.short_help
    command.context_class = FrenchContext
    command.options_metavar = OPTIONS_METAVAR
    if isinstance(command, click.Group):
        command.subcommand_metavar = SUBCOMMAND_METAVAR
    for param in command.params:
        if isinstance(param.type, click.Path):
            # Click names a path type ("file", "directory") when the option is declared,
            # before our catalog is in use; name it again, through the catalog.
            param.type.name = gettext.gettext(_path_kind(param.type))
        word = text.metavars.get(param.name or "") if text is not None else None
        if isinstance(param, click.Option):
            if text is not None and param.name in text.options:
                param.help = text.options[param.name]
            _name_option_value(param, word)
        elif isinstance(param, click.Argument) and word is not None:
            word = word if param.required else f"[{word}]"
            param.metavar = word if param.nargs == 1 else f"{word}..."


def _name_option_value(option: click.Option, word: str | None) -> None:
    if option.is_flag or option.count or isinstance(option.type, click.Choice):
        return
    if word is None:
        if option.metavar is not None:
            return
        if isinstance(option.type, click.Path):
            word = TYPE_METAVARS[_path_kind(option.type)]
        else:
            word = TYPE_METAVARS.get(option.type.name, option.type.name.upper())
    option.metavar = word if option.nargs == 1 else f"{word}..."


def _path_kind(path: click.Path) -> str:
    if path.file_okay and not path.dir_okay:
        return "file"
    if path.dir_okay and not path.file_okay:
        return "directory"
    return "path"
