"""Teachers of CoT synthesis (``scene``, ``openai``, ``local``)."""

from stvg.synthesis.teachers.base import Teacher, TeacherReply, TeacherRequest

__all__ = ["Teacher", "TeacherReply", "TeacherRequest"]
