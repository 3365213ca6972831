"""Forms of the login pages."""

from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField
from wtforms.validators import DataRequired, Length


def show_errors(form: FlaskForm, errors: dict[str, list[str]]) -> None:
    """A service's field errors (ValidationFailed.errors) under their fields."""
    for name, messages in errors.items():
        field = getattr(form, name)
        field.errors = [*field.errors, *messages]


class LoginForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=200)])
    remember = BooleanField("Keep me signed in")


class ForgotPasswordForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), Length(max=254)])


class SetPasswordForm(FlaskForm):
    password = PasswordField("New password", validators=[DataRequired(), Length(max=200)])
    again = PasswordField("The same again", validators=[DataRequired(), Length(max=200)])


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField(
        "Current password", validators=[DataRequired(), Length(max=200)]
    )
    new_password = PasswordField("New password", validators=[DataRequired(), Length(max=200)])
    again = PasswordField("The new password again", validators=[DataRequired(), Length(max=200)])
