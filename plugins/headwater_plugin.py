"""Airflow plugin entry point: the Headwater Sources page (plugins/headwater/ui).

Lives at the top of plugins/ because Airflow imports plugin files one by one; the headwater
package itself is excluded from that scan (plugins/.airflowignore) and imported normally.
"""

from airflow.plugins_manager import AirflowPlugin


class HeadwaterPlugin(AirflowPlugin):
    name = "headwater"

    @property
    def fastapi_apps(self):  # imported on the api-server only, not by every process that loads plugins
        from headwater.ui.app import app

        return [{"app": app, "url_prefix": "/headwater", "name": "Headwater sources"}]

    external_views = [
        {
            "name": "Sources",
            "href": "/headwater/sources",
            "destination": "nav",
            "category": "browse",
            "url_route": "headwater-sources",
        }
    ]
