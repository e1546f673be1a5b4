"""The Review flow: the crisis report of one alert (model, HTML, storage)."""
