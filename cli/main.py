"""The ``kb`` command line: ingest, parse, extract, search, browse, and serve the API."""

from __future__ import annotations

import json
import logging
import sys
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

import click

from ingest.errors import IngestError
from ingest.sources import SourceOptions, read_sources
from kb.config import SETTINGS, load_settings
from kb.errors import KbError
from kb.ingesting import STATUSES, IngestResult
from kb.knowledge import STORE_FILE, KnowledgeBase
from kb.store import Store

if TYPE_CHECKING:
    from kb.answer import Citation

_HELP = {setting.name: setting.help for setting in SETTINGS}


def _json_line(data: object) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, default=str))


class _KbGroup(click.Group):
    """Turns domain errors into one clean line and an exit code instead of a traceback."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except (KbError, IngestError) as error:
            raise click.ClickException(str(getattr(error, "detail", error))) from None


@click.group(cls=_KbGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--data-dir",
    envvar="KB_DATA_DIR",
    type=click.Path(file_okay=False),
    help=_HELP["data_dir"] + " [env KB_DATA_DIR]",
)
@click.option("-v", "--verbose", is_flag=True, help="Log progress and repairs to stderr.")
@click.pass_context
def main(ctx: click.Context, data_dir: str | None, verbose: bool) -> None:
    """marketkb: answers from market commentary, with cited passages and extracted figures."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        ctx.obj = load_settings({"data_dir": data_dir} if data_dir else None)
    except ValueError as error:
        raise click.UsageError(str(error)) from None


def existing_store(settings: dict) -> Store:
    """The store of the configured data directory, which must already hold one."""
    path = Path(settings["data_dir"]) / STORE_FILE
    if not path.exists():
        raise click.ClickException(
            f"no marketkb data in {settings['data_dir']}; ingest something first "
            "(kb ingest SOURCE) or name the right --data-dir"
        )
    return Store(path)


def open_kb(settings: dict, *, must_exist: bool = False) -> KnowledgeBase:
    """The knowledge base of the configured data directory."""
    if must_exist:
        existing_store(settings).close()
    return KnowledgeBase(
        settings["data_dir"],
        max_passage_tokens=settings["max_passage_tokens"],
        approx_threshold=settings["approx_threshold"],
        inference=settings["inference"],
    )


@main.command()
@click.argument("sources", nargs=-1, required=True)
@click.option(
    "--allow-private-urls",
    is_flag=True,
    help="Allow URLs on loopback/private addresses (for local fixtures).",
)
@click.option("--quiet", "-q", is_flag=True, help="No progress bar; print only the summary.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON result per item.")
@click.pass_obj
def ingest(
    settings: dict, sources: tuple[str, ...], allow_private_urls: bool, quiet: bool, as_json: bool
) -> None:
    """Ingest HTML files or directories, saved page texts, JSONL exports, URLs and feeds.

    Ends with a summary of new, updated, unchanged, duplicate and failed items, with one reason
    per failure; exits non-zero only when nothing could be ingested.
    """
    from tqdm import tqdm

    kb = open_kb(settings)
    options = SourceOptions(allow_private=allow_private_urls or settings["allow_private_urls"])
    bar = tqdm(desc="ingest", unit="article", disable=quiet or as_json, file=sys.stderr)

    def progress(result: IngestResult) -> None:
        bar.update(1)
        bar.set_postfix_str(result.status, refresh=False)

    results = kb.ingest(read_sources(list(sources), options), progress=progress)
    bar.close()
    if as_json:
        for result in results:
            _json_line({**result.to_dict(), "origin": result.origin})
    counts = Counter(result.status for result in results)
    click.echo(", ".join(f"{counts[status]} {status}" for status in STATUSES), err=as_json)
    for result in results:
        if result.status == "failed":
            click.echo(f"  failed: {result.origin or result.url}: {result.error}", err=True)
    stats = kb.stats()
    click.echo(
        f"store now holds {stats['articles']} articles, {stats['passages']} passages, "
        f"{stats['facts']} facts",
        err=as_json,
    )
    if not results or counts["failed"] == len(results):
        sys.exit(1)


@main.command()
@click.argument("sources", nargs=-1, required=True)
@click.option("--allow-private-urls", is_flag=True, help="Allow URLs on private addresses.")
@click.pass_obj
def parse(settings: dict, sources: tuple[str, ...], allow_private_urls: bool) -> None:
    """Parse sources without storing; print one JSON object per article, in input order."""
    options = SourceOptions(allow_private=allow_private_urls or settings["allow_private_urls"])
    failures = 0
    for item in read_sources(list(sources), options):
        if isinstance(item, IngestError):
            failures += 1
            _json_line({"error": item.reason, "source": item.source})
        else:
            _json_line(item.to_dict())
    if failures:
        sys.exit(1)


@main.command()
@click.argument("source")
@click.option("--allow-private-urls", is_flag=True, help="Allow URLs on private addresses.")
@click.pass_obj
def extract(settings: dict, source: str, allow_private_urls: bool) -> None:
    """Print the figures in SOURCE (a file, a URL, or - for stdin; text or HTML) as JSON."""
    from ingest.facts import extract_facts
    from ingest.fetch import fetch
    from ingest.gazetteer import load_gazetteer
    from ingest.sources import commentary_text

    if source == "-":
        text = commentary_text(sys.stdin.buffer.read(), "stdin")
    elif source.lower().startswith(("http://", "https://")):
        allow = allow_private_urls or settings["allow_private_urls"]
        page = fetch(source, allow_private=allow)
        text = commentary_text(page.data, page.final_url, page.content_type)
    else:
        path = Path(source)
        if not path.is_file():
            raise click.ClickException(f"{source}: no such file, or not an http(s) URL")
        text = commentary_text(path.read_bytes(), path.name)
    _json_line({"facts": [fact.to_dict() for fact in extract_facts(text, load_gazetteer())]})


@main.command()
@click.option("--entity", help="Canonical entity or alias, e.g. Binance or BTC.")
@click.option("--metric", help="Metric from the vocabulary, e.g. liquidations.")
@click.option("--side", type=click.Choice(["long", "short"]), help="Long or short side.")
@click.option("--direction", type=click.Choice(["in", "out", "up", "down"]), help="Direction.")
@click.option("--window", help="Time window, e.g. 1h, 24h, 7d.")
@click.option("--since", help="Published on or after this date (YYYY-MM-DD).")
@click.option("--until", help="Published on or before this date (YYYY-MM-DD).")
@click.option("--group-by", type=click.Choice(["entity"]), help="Aggregate per entity.")
@click.option("--limit", default=100, show_default=True, help="Most facts to list.")
@click.option(
    "--series",
    is_flag=True,
    help="Print --entity's --metric over time as a table: one row per dated figure, copies "
    "counted once, disagreeing sources marked.",
)
@click.option("--unit", help="With --series: only figures in this unit (USD, %, BTC...).")
@click.option("--json", "as_json", is_flag=True, help="With --series: print the series as JSON.")
@click.pass_obj
def facts(
    settings: dict,
    entity: str | None,
    metric: str | None,
    side: str | None,
    direction: str | None,
    window: str | None,
    since: str | None,
    until: str | None,
    group_by: str | None,
    limit: int,
    series: bool,
    unit: str | None,
    as_json: bool,
) -> None:
    """List stored facts, or per-entity aggregates with the facts behind them, or (--series) one
    entity's metric over time."""
    from kb.factquery import FactQuery, aggregate_by_entity, find_facts

    if series:
        _print_series(settings, entity, metric, side, window, unit, since, until, as_json)
        return
    if unit or as_json:
        raise click.UsageError("--unit and --json go with --series")

    query = FactQuery(
        entity=entity,
        metric=metric,
        side=side,
        direction=direction,
        window=window,
        since=since,
        until=until,
        limit=limit,
    )
    query.validate()
    found = find_facts(existing_store(settings), query)
    if group_by:
        for group in aggregate_by_entity(found):
            _json_line(group.to_dict())
    else:
        for fact in found:
            _json_line(fact.to_dict())


def _print_series(
    settings: dict,
    entity: str | None,
    metric: str | None,
    side: str | None,
    window: str | None,
    unit: str | None,
    since: str | None,
    until: str | None,
    as_json: bool,
) -> None:
    """``kb facts --series``: the series as a table (or JSON), disputed points marked."""
    from kb.series import SeriesQuery, fact_series

    if not entity or not metric:
        raise click.UsageError("--series needs --entity and --metric")
    query = SeriesQuery(entity, metric, side, window, unit, since, until)
    found = fact_series(existing_store(settings), query)
    if as_json:
        _json_line(found.to_dict())
        return
    title = " ".join(filter(None, [found.entity, side, metric.replace("_", " "), window]))
    count = len(found.points)
    click.echo(f"{title}: {count} dated point{'' if count == 1 else 's'}")
    if len(found.units) > 1 and not unit:
        click.echo("units: " + ", ".join(f"{u} ({n})" for u, n in found.units.items()))
    rows = [("day", "figure", "unit", "side", "window", "", "source")]
    for point in found.points:
        first = point.citations[0]
        copies = f" +{len(point.citations) - 1}" if len(point.citations) > 1 else ""
        rows.append(
            (
                point.day + ("*" if point.day_stated else ""),
                first.text,
                point.unit,
                point.side or "",
                point.window or "",
                "disputed" if point.disputed else "",
                f"{first.source or first.article_id}{copies}",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        cells = (cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        click.echo("  ".join(cells).rstrip())
    notes = []
    if any(p.day_stated for p in found.points):
        notes.append("* the sentence states the day")
    if found.undated:
        notes.append(f"{found.undated} undated figures left out")
    if notes:
        click.echo("; ".join(notes))


@main.command()
@click.argument("query")
@click.option("-k", default=5, show_default=True, help="Passages to return.")
@click.option(
    "--mode",
    type=click.Choice(["hybrid", "dense", "keyword"]),
    default="hybrid",
    show_default=True,
    help="Ranking to use.",
)
@click.option("--since", help="Published on or after (YYYY-MM-DD).")
@click.option("--until", help="Published on or before (YYYY-MM-DD).")
@click.option("--source", help="Only this source.")
@click.pass_obj
def search(
    settings: dict,
    query: str,
    k: int,
    mode: str,
    since: str | None,
    until: str | None,
    source: str | None,
) -> None:
    """Print the passages that best match QUERY, one JSON object per line."""
    from kb.search import search as run_search
    from kb.store import Filters

    kb = open_kb(settings, must_exist=True)
    for hit in run_search(kb, query, k, Filters(since=since, until=until, source=source), mode):
        _json_line(hit.to_dict())


def _ask_date(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """A --since/--until value as /api/ask reads it: a day stays a day, a date-time stays one."""
    from ingest.dates import DATE_FORMS, filter_date

    try:
        return filter_date(value)
    except ValueError:
        raise click.BadParameter(f"must be {DATE_FORMS}, got {value!r}") from None


def _citation_line(citation: Citation) -> str:
    """``[n] title — source, date — url`` with whatever of source, date and url is known."""
    where = ", ".join(
        part for part in (citation.source, (citation.published or "")[:10] or "undated") if part
    )
    parts = [f"[{citation.n}] {citation.title or '(untitled)'}", where]
    return " — ".join(parts + ([citation.url] if citation.url else []))


@main.command()
@click.argument("question")
@click.option("-k", "--k", "k", default=5, show_default=True, help="Most passages to cite (1-50).")
@click.option("--json", "as_json", is_flag=True, help="Print the JSON /api/ask returns.")
@click.option("--since", callback=_ask_date, help="Published on or after (YYYY-MM-DD).")
@click.option("--until", callback=_ask_date, help="Published on or before (YYYY-MM-DD).")
@click.option("--source", help="Only articles from this source (case-insensitive).")
@click.pass_obj
def ask(
    settings: dict,
    question: str,
    k: int,
    as_json: bool,
    since: str | None,
    until: str | None,
    source: str | None,
) -> None:
    """Answer QUESTION from the stored commentary: the answer, its date and numbered citations.

    Takes the parameters /api/ask takes and checks them the same way; an answer the commentary
    does not support says so ("I found nothing...") and still exits 0.
    """
    import shlex
    from urllib.parse import parse_qsl, urlsplit

    from kb.answer import MAX_K, MAX_QUESTION_CHARS, answer_question
    from kb.store import Filters

    question = " ".join(question.split())
    if not question:
        raise click.BadParameter("must not be empty: the question to answer", param_hint="QUESTION")
    if len(question) > MAX_QUESTION_CHARS:
        raise click.BadParameter(
            f"must be at most {MAX_QUESTION_CHARS} characters, got {len(question)}",
            param_hint="QUESTION",
        )
    if not 1 <= k <= MAX_K:
        raise click.BadParameter(f"must be an integer from 1 to {MAX_K}, got {k}", param_hint="-k")
    if since and until and since[:10] > until[:10]:
        raise click.UsageError(
            f"--since ({since}) is after --until ({until}); no article could match"
        )
    source = (source or "").strip() or None
    if source and len(source) > 200:
        raise click.BadParameter(
            f"must be at most 200 characters, got {len(source)}", param_hint="--source"
        )
    kb = open_kb(settings, must_exist=True)
    answer = answer_question(
        kb, question, k=k, filters=Filters(since=since, until=until, source=source)
    )
    if as_json:
        _json_line(answer.to_dict())
        return
    click.echo(answer.answer)
    click.echo(f"as of {answer.as_of}" if answer.as_of else "undated")
    others = answer.earlier or {}
    if others.get("count"):
        # The same entity and metric at other dates: the command that lists them all.
        query = parse_qsl(urlsplit(others["url"]).query)
        listing = " ".join(f"--{name} {shlex.quote(value)}" for name, value in query)
        before = others.get("earlier")
        order = f" ({before} earlier)" if before is not None else ""
        click.echo(f"{others['count']} other dated figures{order}: kb facts {listing}")
    if answer.citations:
        click.echo()
        for citation in answer.citations:
            click.echo(_citation_line(citation))


@main.command()
@click.argument("article_id")
@click.option("-k", default=5, show_default=True, help="Articles to return.")
@click.pass_obj
def related(settings: dict, article_id: str, k: int) -> None:
    """Print the articles most similar to ARTICLE_ID."""
    from kb.search import related as find_related

    for item in find_related(open_kb(settings, must_exist=True), article_id, k):
        _json_line(item.to_dict())


@main.command()
@click.argument("article_id")
@click.pass_obj
def delete(settings: dict, article_id: str) -> None:
    """Delete an article with its passages, facts and vectors."""
    open_kb(settings, must_exist=True).delete_article(article_id)
    click.echo(f"deleted {article_id}")


@main.command()
@click.pass_obj
def reindex(settings: dict) -> None:
    """Re-cut all passages, re-extract facts and rebuild the vector indexes from the store."""
    changes = open_kb(settings, must_exist=True).reindex()
    click.echo(", ".join(f"{value} {name.replace('_', ' ')}" for name, value in changes.items()))


@main.command()
@click.pass_obj
def stats(settings: dict) -> None:
    """Print counts of stored articles, passages and facts, and any data-directory warning."""
    existing_store(settings).close()
    kb = open_kb(settings)
    warning = {"warning": kb.manifest_warning} if kb.manifest_warning else {}
    _json_line({**kb.stats(), **warning})


@main.command()
@click.option("--repair", is_flag=True, help="Fix what can be fixed, then check again.")
@click.pass_obj
def check(settings: dict, repair: bool) -> None:
    """Check the data directory without changing it: SQLite's integrity, the full-text index,
    the manifest, and one vector per stored passage and article with none orphaned.

    Prints the counts and each problem; exits 1 while any problem remains.
    """
    kb = open_kb(settings, must_exist=True)
    report = kb.check()
    for problem in report.problems:
        click.echo(f"problem: {problem}")
    if report.problems and repair:
        click.echo(f"repairing {len(report.problems)} problem(s)")
        report = kb.repair_all()
        for problem in report.problems:
            click.echo(f"still a problem: {problem}")
    problems = report.problems
    _json_line({**report.counts, "problems": len(problems)})
    if problems:
        raise SystemExit(1)


@main.command()
@click.argument("sources", nargs=-1, required=True)
@click.option(
    "--every",
    default=None,
    help="How often each feed is polled: 90s, 10m, 2h (jittered by 10%). "
    "[env KB_WATCH_EVERY; default 10m]",
)
@click.option("--once", is_flag=True, help="Poll each feed once, then exit.")
@click.option(
    "--allow-private-urls",
    is_flag=True,
    help="Allow URLs on loopback/private addresses (for local fixtures).",
)
@click.pass_obj
def watch(
    settings: dict,
    sources: tuple[str, ...],
    every: str | None,
    once: bool,
    allow_private_urls: bool,
) -> None:
    """Poll feeds (URLs, or files listing one per line) and ingest their new items.

    Each poll is a conditional GET; items already read are remembered in the store, so a restart
    does not fetch them again. A failing feed backs off without stopping the others. Prints one
    line per feed per poll. Ctrl-C (or SIGTERM) stops between items, never mid-article.
    """
    import signal
    import threading

    from kb.watch import FeedWatcher, WatchSettings, parse_every, read_feed_list

    feeds = read_feed_list(list(sources))
    interval = parse_every(every or str(settings["watch_every"]))
    kb = open_kb(settings)
    allow = allow_private_urls or bool(settings["allow_private_urls"])
    watcher = FeedWatcher(
        kb,
        feeds,
        WatchSettings(every=interval, allow_private=allow),
        on_round=lambda done: click.echo(done.line()),
    )
    stop = threading.Event()

    def request_stop(signum: int, _frame: object) -> None:
        click.echo(f"{signal.Signals(signum).name}: stopping after the current item", err=True)
        stop.set()

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, request_stop)
    click.echo(f"watching {len(feeds)} feed(s), every {every or settings['watch_every']}")
    if once:
        rounds = watcher.poll_all(stop)
        if rounds and all(done.outcome == "failed" for done in rounds):
            raise SystemExit(1)
        return
    watcher.run(stop)
    click.echo("stopped")


@main.command()
@click.option("--host", help=_HELP["host"] + " [env KB_HOST; default 127.0.0.1]")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    help=_HELP["port"] + " [env KB_PORT; default 8080; 0 picks a free one]",
)
@click.option(
    "--watch",
    "watch_file",
    type=click.Path(dir_okay=False),
    help=_HELP["watch"] + " [env KB_WATCH]",
)
@click.pass_obj
def serve(settings: dict, host: str | None, port: int | None, watch_file: str | None) -> None:
    """Serve the JSON API under waitress until interrupted.

    Loads the model once, ingests the shipped sample corpus into an empty data directory
    (unless KB_NO_SAMPLE=1), prints the URL it answers on and logs one line per request.
    Write endpoints need KB_API_TOKEN to be set. With --watch, the feeds it lists are polled
    inside the server and their new items ingested as POST /api/ingest would.
    """
    from api.serve import serve as run_server

    overrides = {
        name: value
        for name, value in (("host", host), ("port", port), ("watch", watch_file))
        if value is not None
    }
    run_server({**settings, **overrides})
