// Small maps of located addresses, drawn with no internet: Leaflet (shipped by Flask-Admin)
// over the country outlines of Natural Earth (static/map/countries-110m.json). When the
// server names a tile server (CRM_MAP_TILES_URL), its tiles are drawn under the outlines.
//
// <div class="crm-map" data-places='[{"lat":..,"lon":..,"label":"..","precision":".."}]'
//      data-outlines="/static/map/countries-110m.json" data-tiles="" data-attribution="">
(function () {
  var L = window.L, topojson = window.topojson;
  if (!L || !topojson) { return; }
  var outlines = {};  // url -> promise of GeoJSON, fetched once a page

  function countries(url) {
    if (!outlines[url]) {
      outlines[url] = fetch(url, {credentials: 'same-origin'})
        .then(function (response) { return response.json(); })
        .then(function (topo) { return topojson.feature(topo, topo.objects.countries); });
    }
    return outlines[url];
  }

  function draw(element) {
    var places = JSON.parse(element.dataset.places || '[]');
    if (!places.length) { return; }
    var map = L.map(element, {
      attributionControl: Boolean(element.dataset.attribution),
      scrollWheelZoom: false,
      zoomControl: true
    });
    element.style.background = '#dbeafe';  // the sea
    if (element.dataset.tiles) {
      L.tileLayer(element.dataset.tiles, {
        attribution: element.dataset.attribution || '', maxZoom: 18
      }).addTo(map);
    }
    countries(element.dataset.outlines).then(function (world) {
      L.geoJSON(world, {
        interactive: false,
        style: element.dataset.tiles
          ? {color: '#6c757d', weight: 1, fill: false}
          : {color: '#6c757d', weight: 1, fillColor: '#f8f9fa', fillOpacity: 1}
      }).addTo(map).bringToBack();
    });
    var points = places.map(function (place) {
      var marker = L.circleMarker([place.lat, place.lon], {
        radius: 7, color: '#0d6efd', weight: 2, fillColor: '#0d6efd', fillOpacity: 0.6
      }).addTo(map);
      marker.bindTooltip(place.label + ' (' + place.precision + ')');
      return [place.lat, place.lon];
    });
    if (points.length === 1) {
      map.setView(points[0], 5);
    } else {
      map.fitBounds(points, {padding: [24, 24], maxZoom: 6});
    }
    element.dataset.drawn = String(points.length);
    drawn.push(map);
  }
  var drawn = [];

  document.addEventListener('DOMContentLoaded', function () {
    document.querySelectorAll('.crm-map').forEach(draw);
    // A map drawn in a tab that was hidden has no size yet: measure again when shown.
    if (window.jQuery) {
      window.jQuery(document).on('shown.bs.tab', function () {
        drawn.forEach(function (map) { map.invalidateSize(); });
      });
    }
  });
})();
