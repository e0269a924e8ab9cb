from {{ cookiecutter.module_name }}.cli import app

app()
