"""The catalog as DCAT v3 (W3C Data Catalog Vocabulary, https://www.w3.org/TR/vocab-dcat-3/) and back.

One ``dcat:Dataset`` per resource, following the DCAT-AP conventions harvesters expect: ``dct:identifier`` is
the resource code; titles and descriptions carry ``@zh``; the publisher is a ``foaf:Agent``; frequency and
access rights are IRIs of the EU Publications Office vocabularies; one ``dcat:Distribution`` per format. The
fields are a CSV on the Web (W3C CSVW) ``csvw:tableSchema`` whose ``csvw:column`` list keeps their order.
Shengjing's own terms (share type, unit, data element, rules) use the ``sj:`` namespace; no common vocabulary
has them. Pure conversion: no database, no permissions (see ``opendata.service``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import quote, unquote

from pydantic import ValidationError
from rdflib import BNode, Graph, URIRef
from rdflib import Literal as RdfLiteral
from rdflib.collection import Collection
from rdflib.namespace import DCTERMS, FOAF, RDF, SKOS, XSD, Namespace
from rdflib.term import Node

from shengjing.catalog.schemas import FieldType, ResourceIn, ResourceOut, ShareType, UpdateFrequency
from shengjing.errors import DataFormatError, InvalidInput

# Open namespaces: rdflib's closed DCAT lacks DCAT v3 terms (dcat:version), its CSVW has csvw:title as "title".
DCAT = Namespace("http://www.w3.org/ns/dcat#")
CSVW = Namespace("http://www.w3.org/ns/csvw#")
VCARD = Namespace("http://www.w3.org/2006/vcard/ns#")
SJ = Namespace("urn:shengjing:ns:")
FREQUENCY = Namespace("http://publications.europa.eu/resource/authority/frequency/")
ACCESS_RIGHT = Namespace("http://publications.europa.eu/resource/authority/access-right/")
FILE_TYPE = Namespace("http://publications.europa.eu/resource/authority/file-type/")
CLD_FREQUENCY = Namespace("http://purl.org/cld/freq/")  # Dublin Core's frequency vocabulary, read on import
IANA_MEDIA_TYPES = "https://www.iana.org/assignments/media-types/"

Format = Literal["turtle", "jsonld"]
MEDIA_TYPES: dict[str, str] = {"turtle": "text/turtle", "jsonld": "application/ld+json"}
_RDFLIB_FORMATS: dict[str, str] = {"turtle": "turtle", "jsonld": "json-ld"}

FREQUENCIES: dict[UpdateFrequency, URIRef] = {
    UpdateFrequency.REALTIME: FREQUENCY.UPDATE_CONT,
    UpdateFrequency.DAILY: FREQUENCY.DAILY,
    UpdateFrequency.WEEKLY: FREQUENCY.WEEKLY,
    UpdateFrequency.MONTHLY: FREQUENCY.MONTHLY,
    UpdateFrequency.QUARTERLY: FREQUENCY.QUARTERLY,
    UpdateFrequency.YEARLY: FREQUENCY.ANNUAL,
    UpdateFrequency.IRREGULAR: FREQUENCY.IRREG,
}
_FREQUENCY_OF: dict[URIRef, UpdateFrequency] = {
    **{iri: frequency for frequency, iri in FREQUENCIES.items()},
    FREQUENCY.CONT: UpdateFrequency.REALTIME,
    CLD_FREQUENCY.continuous: UpdateFrequency.REALTIME,
    CLD_FREQUENCY.daily: UpdateFrequency.DAILY,
    CLD_FREQUENCY.weekly: UpdateFrequency.WEEKLY,
    CLD_FREQUENCY.monthly: UpdateFrequency.MONTHLY,
    CLD_FREQUENCY.quarterly: UpdateFrequency.QUARTERLY,
    CLD_FREQUENCY.annual: UpdateFrequency.YEARLY,
    CLD_FREQUENCY.irregular: UpdateFrequency.IRREGULAR,
}
ACCESS_RIGHTS: dict[ShareType, URIRef] = {
    ShareType.UNCONDITIONAL: ACCESS_RIGHT.PUBLIC,
    ShareType.CONDITIONAL: ACCESS_RIGHT.RESTRICTED,
    ShareType.NONE: ACCESS_RIGHT.NON_PUBLIC,
}
_ACCESS_OF = {iri: share for share, iri in ACCESS_RIGHTS.items()}
DATATYPES: dict[FieldType, URIRef] = {
    FieldType.STRING: XSD.string,
    FieldType.INTEGER: XSD.integer,
    FieldType.DECIMAL: XSD.decimal,
    FieldType.DATE: XSD.date,
    FieldType.TIMESTAMP: XSD.dateTime,
    FieldType.BOOLEAN: XSD.boolean,
}
_DATATYPE_OF = {iri: field_type for field_type, iri in DATATYPES.items()}
# Formats departments write, with their IANA media type (the EU file-type code is the upper-cased name).
KNOWN_FORMATS: dict[str, str] = {
    "CSV": "text/csv",
    "TSV": "text/tab-separated-values",
    "XLSX": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "XLS": "application/vnd.ms-excel",
    "JSON": "application/json",
    "XML": "application/xml",
    "PARQUET": "application/vnd.apache.parquet",
    "PDF": "application/pdf",
}
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


PREFIXES: dict[str, Namespace] = {
    "dcat": DCAT,
    "dct": Namespace(str(DCTERMS)),
    "foaf": Namespace(str(FOAF)),
    "skos": Namespace(str(SKOS)),
    "vcard": VCARD,
    "csvw": CSVW,
    "xsd": Namespace(str(XSD)),
    "sj": SJ,
}


def _bind(graph: Graph) -> Graph:
    for prefix, namespace in PREFIXES.items():
        graph.bind(prefix, namespace, override=True)
    return graph


def dataset_iri(base_url: str, code: str) -> URIRef:
    return URIRef(f"{base_url.rstrip('/')}/opendata/{quote(code)}")


def to_graph(resources: Iterable[ResourceOut], base_url: str, *, include_rules: bool = False) -> Graph:
    """A ``dcat:Catalog`` of the resources. Rules (YAML) are written only for a non-public export."""
    base = base_url.rstrip("/")
    graph = _bind(Graph(bind_namespaces="core"))
    catalog = URIRef(f"{base}/opendata/catalog")
    themes = URIRef(f"{base}/opendata/themes")
    graph.add((catalog, RDF.type, DCAT.Catalog))
    graph.add((catalog, DCTERMS.title, RdfLiteral("盛京公共数据资源目录", lang="zh")))
    graph.add((catalog, DCTERMS.title, RdfLiteral("Shengjing public data catalog", lang="en")))
    graph.add((catalog, DCTERMS.description, RdfLiteral("公共数据授权运营平台的数据资源目录", lang="zh")))
    graph.add((catalog, FOAF.homepage, URIRef(f"{base}/opendata")))
    graph.add((catalog, DCAT.themeTaxonomy, themes))
    graph.add((themes, RDF.type, SKOS.ConceptScheme))
    graph.add((themes, SKOS.prefLabel, RdfLiteral("主题", lang="zh")))
    for resource in resources:
        dataset = _add_dataset(graph, resource, base, themes, include_rules)
        graph.add((catalog, DCAT.dataset, dataset))
    return graph


def _add_dataset(graph: Graph, r: ResourceOut, base: str, themes: URIRef, include_rules: bool) -> URIRef:
    dataset = dataset_iri(base, r.code)
    add = graph.add
    add((dataset, RDF.type, DCAT.Dataset))
    add((dataset, DCTERMS.identifier, RdfLiteral(r.code)))
    add((dataset, DCTERMS.title, RdfLiteral(r.name, lang="zh")))
    # DCAT-AP requires a description: a resource without a summary is described by its name (read back as "").
    add((dataset, DCTERMS.description, RdfLiteral(r.summary or r.name, lang="zh")))
    add((dataset, DCTERMS.issued, RdfLiteral(r.created_at, datatype=XSD.dateTime)))
    add((dataset, DCTERMS.modified, RdfLiteral(r.updated_at, datatype=XSD.dateTime)))
    add((dataset, DCTERMS.accrualPeriodicity, FREQUENCIES[r.update_frequency]))
    add((dataset, DCTERMS.accessRights, ACCESS_RIGHTS[r.open_type]))
    add((dataset, SJ.shareType, RdfLiteral(r.share_type.value)))
    if r.current_version is not None:
        add((dataset, DCAT.version, RdfLiteral(str(r.current_version))))
    if r.open_type != ShareType.NONE:
        add((dataset, DCAT.landingPage, dataset))

    publisher = URIRef(f"{base}/organizations/{quote(r.department)}")
    add((dataset, DCTERMS.publisher, publisher))
    add((publisher, RDF.type, FOAF.Agent))
    add((publisher, FOAF.name, RdfLiteral(r.department_name, lang="zh")))
    add((publisher, DCTERMS.identifier, RdfLiteral(r.department)))

    for theme in r.themes:
        concept = URIRef(f"{themes}/{quote(theme)}")
        add((dataset, DCAT.theme, concept))
        add((concept, RDF.type, SKOS.Concept))
        add((concept, SKOS.prefLabel, RdfLiteral(theme, lang="zh")))
        add((concept, SKOS.inScheme, themes))
    for tag in r.tags:
        add((dataset, DCAT.keyword, RdfLiteral(tag, lang="zh")))

    if r.contact:
        contact = BNode()
        add((dataset, DCAT.contactPoint, contact))
        add((contact, RDF.type, VCARD.Kind))
        add((contact, VCARD.fn, RdfLiteral(r.contact)))
        if email := _EMAIL.search(r.contact):
            add((contact, VCARD.hasEmail, URIRef(f"mailto:{email.group(0)}")))

    for fmt in r.formats:
        distribution = URIRef(f"{dataset}/distribution/{quote(fmt)}")
        add((dataset, DCAT.distribution, distribution))
        add((distribution, RDF.type, DCAT.Distribution))
        add((distribution, DCTERMS.title, RdfLiteral(fmt)))
        add((distribution, DCAT.accessURL, dataset))
        if media_type := KNOWN_FORMATS.get(fmt.upper()):
            add((distribution, DCTERMS["format"], FILE_TYPE[fmt.upper()]))
            add((distribution, DCAT.mediaType, URIRef(IANA_MEDIA_TYPES + media_type)))

    if r.fields:
        schema = BNode()
        add((dataset, CSVW.tableSchema, schema))
        add((schema, RDF.type, CSVW.Schema))
        columns = []
        for f in r.fields:
            column = BNode()
            columns.append(column)
            add((column, RDF.type, CSVW.Column))
            add((column, CSVW.name, RdfLiteral(f.name)))
            add((column, CSVW.title, RdfLiteral(f.label, lang="zh")))
            add((column, CSVW.datatype, DATATYPES[FieldType(f.data_type)]))
            if f.description:
                add((column, DCTERMS.description, RdfLiteral(f.description, lang="zh")))
            if f.unit:
                add((column, SJ.unit, RdfLiteral(f.unit)))
            if f.data_element:
                add((column, SJ.dataElement, RdfLiteral(f.data_element)))
        add((schema, CSVW.column, Collection(graph, BNode(), columns).uri))

    if include_rules:
        for predicate, text in ((SJ.standardization, r.standardization), (SJ.qualityRules, r.quality_rules)):
            if text:
                add((dataset, predicate, RdfLiteral(text)))
    return dataset


def dataset_count(graph: Graph) -> int:
    return len(set(graph.subjects(RDF.type, DCAT.Dataset)))


def serialize(graph: Graph, fmt: Format) -> str:
    if fmt == "jsonld":
        context = {prefix: str(namespace) for prefix, namespace in PREFIXES.items()}
        return graph.serialize(format="json-ld", context=context, auto_compact=True, ensure_ascii=False)
    return graph.serialize(format="turtle")


def parse(text: str | bytes, fmt: Format, *, source: str) -> Graph:
    """RDF text as a graph; anything that does not parse is a DataFormatError naming the source."""
    graph = Graph()
    try:
        graph.parse(data=text, format=_RDFLIB_FORMATS[fmt])
    except Exception as exc:  # rdflib's parsers raise many kinds (syntax, JSON, Unicode errors)
        raise DataFormatError(
            f"{source} 不是有效的 {fmt} 格式 RDF：{type(exc).__name__}。",
            f"{source} is not valid RDF in {fmt}: {type(exc).__name__}.",
            file=source,
        ) from None
    return graph


def guess_format(name: str, text: str | bytes) -> Format:
    """JSON-LD for .jsonld/.json files or text starting with '{' or '['; Turtle otherwise."""
    if name.lower().endswith((".jsonld", ".json")):
        return "jsonld"
    head = (text[:200].decode("utf-8", "replace") if isinstance(text, bytes) else text[:200]).lstrip("\ufeff \t\r\n")
    return "jsonld" if head.startswith(("{", "[")) else "turtle"


# --- reading DCAT back ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportedDataset:
    """A ``dcat:Dataset`` read from a graph: its IRI, its publisher's code if it names one, and its description."""

    iri: str
    publisher: str | None
    data: dict[str, Any]

    def resource(self, department: str, current_rules: dict[str, str] | None = None) -> ResourceIn:
        """The resource to save for the given department, keeping ``current_rules`` the dataset does not state;
        invalid values are an error naming the dataset."""
        try:
            return ResourceIn.model_validate({**(current_rules or {}), **self.data, "department": department})
        except ValidationError as exc:
            fields = "、".join(".".join(str(p) for p in e["loc"]) for e in exc.errors()[:5])
            raise InvalidInput(
                f"DCAT 数据集 <{self.iri}> 的描述有误：{fields}。",
                f"The DCAT dataset <{self.iri}> is invalid: {fields}.",
                dataset=self.iri,
                fields=fields,
            ) from None


def _error(iri: Node, zh: str, en: str) -> InvalidInput:
    return InvalidInput(f"DCAT 数据集 <{iri}> {zh}。", f"The DCAT dataset <{iri}> {en}.", dataset=str(iri))


def _text(graph: Graph, subject: Node, predicate: URIRef) -> str | None:
    """One value of a text property, preferring Chinese, then untagged, then any language."""
    values = [v for v in graph.objects(subject, predicate) if isinstance(v, RdfLiteral)]
    for wanted in ("zh", None):
        for value in values:
            lang = value.language.lower().split("-")[0] if value.language else None
            if lang == wanted:
                return str(value)
    return str(values[0]) if values else None


def _mapped(graph: Graph, dataset: Node, predicate: URIRef, mapping: dict[URIRef, Any], zh: str, en: str) -> Any:
    value = graph.value(dataset, predicate)
    if value is None:
        return None
    if value not in mapping:
        raise _error(dataset, f"的{zh} <{value}> 无法识别", f"has an unknown {en} <{value}>")
    return mapping[value]  # type: ignore[index]


def from_graph(graph: Graph) -> list[ImportedDataset]:
    """Every ``dcat:Dataset`` in the graph, sorted by IRI; a dataset without an identifier is an error."""
    datasets = sorted(set(graph.subjects(RDF.type, DCAT.Dataset)), key=str)
    if not datasets:
        raise InvalidInput("RDF 中没有 dcat:Dataset。", "The RDF holds no dcat:Dataset.")
    return [_read_dataset(graph, dataset) for dataset in datasets]


def _read_dataset(graph: Graph, dataset: Node) -> ImportedDataset:
    code = _text(graph, dataset, DCTERMS.identifier)
    if not code:
        raise _error(dataset, "缺少 dct:identifier（资源代码）", "has no dct:identifier (the resource code)")
    title = _text(graph, dataset, DCTERMS.title)
    if not title:
        raise _error(dataset, "缺少 dct:title（资源名称）", "has no dct:title (the resource name)")
    description = _text(graph, dataset, DCTERMS.description) or ""
    open_type = _mapped(graph, dataset, DCTERMS.accessRights, _ACCESS_OF, "开放类型", "access right")
    frequency = _mapped(graph, dataset, DCTERMS.accrualPeriodicity, _FREQUENCY_OF, "更新周期", "frequency")
    publisher = graph.value(dataset, DCTERMS.publisher)
    publisher_code = _text(graph, publisher, DCTERMS.identifier) if publisher is not None else None
    contact = graph.value(dataset, DCAT.contactPoint)
    data: dict[str, Any] = {
        "code": code,
        "name": title,
        "summary": "" if description == title else description,
        # Harvested catalogs say nothing of sharing between departments: the safe default is not shared.
        "share_type": _text(graph, dataset, SJ.shareType) or ShareType.NONE.value,
        "open_type": (open_type or ShareType.NONE).value,
        "update_frequency": (frequency or UpdateFrequency.IRREGULAR).value,
        "themes": sorted(_theme_label(graph, t) for t in graph.objects(dataset, DCAT.theme)),
        "tags": sorted(str(k) for k in graph.objects(dataset, DCAT.keyword)),
        "formats": sorted(_format_name(graph, d) for d in graph.objects(dataset, DCAT.distribution)),
        "contact": _text(graph, contact, VCARD.fn) if contact is not None else None,
        "fields": _read_fields(graph, dataset),
    }
    # Rules only when the file has them: a public export has none, and importing it must not erase them.
    for key, predicate in (("standardization", SJ.standardization), ("quality_rules", SJ.qualityRules)):
        if (text := _text(graph, dataset, predicate)) is not None:
            data[key] = text
    return ImportedDataset(iri=str(dataset), publisher=publisher_code, data=data)


def _theme_label(graph: Graph, theme: Node) -> str:
    return _text(graph, theme, SKOS.prefLabel) or unquote(str(theme).rstrip("/").rsplit("/", 1)[-1])


def _format_name(graph: Graph, distribution: Node) -> str:
    title = _text(graph, distribution, DCTERMS.title)
    if title:
        return title
    fmt = graph.value(distribution, DCTERMS["format"]) or graph.value(distribution, DCAT.mediaType)
    return str(fmt).rstrip("/").rsplit("/", 1)[-1] if fmt is not None else "?"


def _read_fields(graph: Graph, dataset: Node) -> list[dict[str, Any]]:
    schema = graph.value(dataset, CSVW.tableSchema)
    if schema is None:
        return []
    head = graph.value(schema, CSVW.column)
    columns = list(Collection(graph, head)) if head is not None and graph.value(head, RDF.first) else []
    columns = columns or list(graph.objects(schema, CSVW.column))  # a schema written without an rdf:List
    fields = []
    for position, column in enumerate(columns, start=1):
        name = _text(graph, column, CSVW.name)
        if not name:
            raise _error(dataset, f"的第 {position} 个数据项缺少 csvw:name", f"has no csvw:name on column {position}")
        datatype = graph.value(column, CSVW.datatype)
        field_type = _DATATYPE_OF.get(datatype, FieldType.STRING) if isinstance(datatype, URIRef) else FieldType.STRING
        fields.append(
            {
                "name": name,
                "label": _text(graph, column, CSVW.title) or name,
                "data_type": field_type.value,
                "description": _text(graph, column, DCTERMS.description) or "",
                "unit": _text(graph, column, SJ.unit),
                "data_element": _text(graph, column, SJ.dataElement),
            }
        )
    return fields
