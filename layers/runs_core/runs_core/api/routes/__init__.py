"""The API's routes, one Powertools Router per resource group: functions/<name>_api/app.py serves one."""
