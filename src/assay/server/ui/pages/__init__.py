"""The UI's pages: each module has `router = fastapi.APIRouter()`; `app.create_ui_app`
includes every module found here."""
